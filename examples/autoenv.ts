// README: name an environment, get a connected client (OpenEnv's AutoEnv guide, in TypeScript).
import { AutoAction, AutoEnv } from "openenv-connect";

AutoEnv.listEnvironments();
const env = await AutoEnv.fromEnv("coding");
const CodeAction = await AutoAction.fromEnv("coding");
try {
  await env.reset();
  const r = await env.step(CodeAction({ code: "print('Hello, OpenEnv!')" }));
  console.log(JSON.stringify((r.observation as unknown as { stdout: string }).stdout));
} finally {
  await env.close();
}
try {
  await AutoEnv.fromEnv("cooding");
} catch (e) {
  console.log((e as Error).message);
}
