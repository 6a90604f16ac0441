// The main job in one command: serve the echo environment with the `openenv`
// CLI (a separate process, as in production) and run a sample rollout against it.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { EnvClient } from "openenv-connect/client";
import { echoSpec } from "openenv-connect/envs/echo";

const server = spawn(process.execPath, ["bin/openenv.js", "serve", "echo", "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
const lines = createInterface({ input: server.stdout });
const [firstLine] = (await once(lines, "line")) as [string];
const url = /http:\/\/\S+/.exec(firstLine)?.[0];
if (url === undefined) throw new Error(`unexpected server output: ${firstLine}`);
console.log(`server: ${firstLine}`);

try {
  await using env = await EnvClient.connect({ baseUrl: url, spec: echoSpec });
  const first = await env.reset({ seed: 42 });
  console.log(`reset  -> ${first.observation.echoedMessage} (session ${env.sessionId}, transport ${env.transport})`);
  let total = 0;
  for (const message of ["Hello, OpenEnv!", "protocol first", "bidi streams"]) {
    const r = await env.step({ message });
    total += r.reward ?? 0;
    console.log(
      `step ${r.stepCount} -> echoed "${r.observation.echoedMessage}" length ${r.observation.messageLength} reward ${r.reward?.toFixed(1)}`,
    );
  }
  const state = await env.state();
  console.log(
    `state  -> episode ${state.episodeId}, ${state.stepCount} steps, ${state.totalCharacters} characters; return ${total.toFixed(1)}`,
  );

  const n = 2000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await env.step({ message: "ping" });
  const seconds = (performance.now() - t0) / 1000;
  console.log(`rollout: ${n} sequential steps over one bidi stream in ${seconds.toFixed(2)} s = ${(n / seconds).toFixed(0)} steps/s`);
} finally {
  server.kill("SIGTERM");
  await once(server, "exit");
}
