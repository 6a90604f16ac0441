import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import { VectorEnv } from "../src/client/vector-env.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { ScriptedEnvironment, scriptedSpec } from "./fixtures/scripted-env.js";
import { waitFor } from "./helpers.js";

let echo: EnvironmentServer;
let scripted: EnvironmentServer;
beforeAll(async () => {
  echo = await serve(EchoEnvironment, { port: 0 });
  scripted = await serve(ScriptedEnvironment, { port: 0 });
});
afterAll(async () => {
  await Promise.all([echo.close(), scripted.close()]);
});

describe("VectorEnv", () => {
  it.each(["connect", "grpc", "grpc-web"] as const)("steps 16 sessions at once over one HTTP/2 connection (%s)", async (transport) => {
    await using vec = await VectorEnv.connect({ baseUrl: echo.url, spec: echoSpec, count: 16, transport });
    const first = await vec.resetAll((i) => ({ episodeId: `ep-${i}` }));
    expect(first.map((r) => r.episodeId)).toEqual(Array.from({ length: 16 }, (_, i) => `ep-${i}`));
    expect(new Set(vec.envs.map((e) => e.sessionId)).size).toBe(16);
    expect(echo.router.sessions.active).toBe(16);
    expect(echo.listener.connections()).toBe(1);
    for (let t = 1; t <= 5; t++) {
      const results = await vec.stepAll(vec.envs.map((_, i) => ({ message: `env${i}-t${t}` })));
      results.forEach((r, i) => {
        expect(r.observation.echoedMessage).toBe(`env${i}-t${t}`);
        expect(r.stepCount).toBe(t);
      });
    }
    await vec.close();
    await waitFor(() => echo.router.sessions.active === 0);
  });

  it("spreads sessions over several connections, round robin", async () => {
    await using vec = await VectorEnv.connect({ baseUrl: echo.url, spec: echoSpec, count: 6, connections: 3 });
    await vec.resetAll();
    expect(echo.listener.connections()).toBe(3);
    const results = await vec.stepAll(vec.envs.map((_, i) => ({ message: `m${i}` })));
    expect(results.map((r) => r.observation.echoedMessage)).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    await expect(VectorEnv.connect({ baseUrl: echo.url, spec: echoSpec, count: 2, connections: 0 })).rejects.toThrow(RangeError);
  });

  it("resets finished sessions on the next step (Gymnasium next-step autoreset)", async () => {
    await using vec = await VectorEnv.connect({ baseUrl: scripted.url, spec: scriptedSpec, count: 2 });
    await vec.resetAll();
    const a = await vec.stepAll([{ message: "done" }, { message: "go" }]);
    expect(a.map((r) => r.done)).toEqual([true, false]);
    const b = await vec.stepAll([{ message: "ignored" }, { message: "go" }]);
    expect(b[0]?.observation.echoedMessage).toBe("ready");
    expect(b[0]?.stepCount).toBe(0);
    expect(b[1]?.stepCount).toBe(2);
    await expect(vec.stepAll([{ message: "only one" }])).rejects.toThrow(RangeError);
  });
});

describe("EnvClient.rollout", () => {
  it("yields each transition until the episode ends", async () => {
    await using env = await EnvClient.connect({ baseUrl: scripted.url, spec: scriptedSpec });
    const script = ["a", "b", "done", "never"];
    const seen: string[] = [];
    for await (const t of env.rollout((_obs, last) => ({ message: script[last.stepCount] as string }))) {
      seen.push(`${t.episode}:${t.result.observation.echoedMessage}:${t.result.done}`);
    }
    expect(seen).toEqual(["0:a:false", "0:b:false", "0:goal:true"]);
  });

  it("stops after maxSteps and runs several episodes", async () => {
    await using env = await EnvClient.connect({ baseUrl: echo.url, spec: echoSpec });
    const steps: number[] = [];
    for await (const t of env.rollout(() => ({ message: "x" }), { maxSteps: 3, episodes: 2 })) steps.push(t.result.stepCount);
    expect(steps).toEqual([1, 2, 3, 1, 2, 3]);
  });
});
