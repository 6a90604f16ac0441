import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import type { EnvironmentServer, ServeOptions } from "../src/server/serve.js";
import { ScriptedEnvironment, scriptedSpec, scriptedStats } from "./fixtures/scripted-env.js";
import { echoAction, rawChannel, waitFor } from "./helpers.js";
import { serverTarget, type Target, targets } from "./targets.js";

const servers: EnvironmentServer[] = [];
async function start(env: typeof ScriptedEnvironment | typeof EchoEnvironment, options: ServeOptions = {}, target: Target = serverTarget) {
  const s = await target.serve(env, { port: 0, ...options });
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("partial observations", () => {
  it("arrive before the final result, tagged with the request id", async () => {
    const server = await start(ScriptedEnvironment);
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
    await env.reset();
    const seen: string[] = [];
    const result = await env.step({ message: "partials:4" }, { onPartial: (p, progress) => seen.push(`${p.echoedMessage}@${progress}`) });
    seen.push("result");
    expect(seen).toEqual(["chunk 0@0", "chunk 1@0.25", "chunk 2@0.5", "chunk 3@0.75", "result"]);
    expect(result.observation.echoedMessage).toBe("partials:4");
  });
});

// Partial observations are our server's only: OpenEnv's /ws has none, so the gateway cannot relay them.
// The rest runs against our server and against `openenv gateway` in front of it (test/targets.ts).
describe.each(targets)("against the $name", (t) => {
  describe("idle sessions", () => {
    it("are reaped, and the stream attached to one ends with ABORTED", async () => {
      const server = await start(EchoEnvironment, { idleTimeoutMs: 200 }, t);
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
      await env.reset();
      expect(server.router.sessions.active).toBe(1);
      await waitFor(() => server.router.sessions.active === 0, 5_000, "idle session reaped");
      const err = await env.step({ message: "late" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect([Code.Aborted, Code.NotFound]).toContain((err as ConnectError).code);
    });

    it("are kept alive by activity", async () => {
      const server = await start(EchoEnvironment, { idleTimeoutMs: 300 }, t);
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
      await env.reset();
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 100));
        await env.step({ message: "tick" });
      }
      expect(server.router.sessions.active).toBe(1);
    });
  });

  describe("dropped streams and resume", () => {
    it("keeps the session for the resume grace period, then frees its slot", async () => {
      const server = await start(EchoEnvironment, { resumeGraceMs: 300 }, t);
      const { channel, transport } = rawChannel(server.url);
      await channel.request({ command: { case: "reset", value: {} } });
      await channel.cancel();
      transport.close();
      expect(server.router.sessions.active).toBe(1);
      await waitFor(() => server.router.sessions.active === 0, 5_000, "slot freed after grace");
    });

    it("lets a new stream resume the session by id, replaying a retried request id instead of applying it twice", async () => {
      const server = await start(EchoEnvironment, { resumeGraceMs: 5_000 }, t);
      const first = rawChannel(server.url);
      await first.channel.request({ command: { case: "reset", value: {} } });
      const r1 = await first.channel.request({ command: { case: "action", value: echoAction("once") } }, undefined, "req-1");
      const sessionId = first.channel.sessionId as string;
      await first.channel.cancel();
      first.transport.close();

      const second = rawChannel(server.url);
      const replayed = await second.channel.request(
        { sessionId, command: { case: "action", value: echoAction("once") } },
        undefined,
        "req-1",
      );
      expect(replayed).toEqual(r1);
      const state = await second.channel.request({ command: { case: "state", value: {} } });
      expect(state.case === "state" && state.value.stepCount).toBe(1);
      const r2 = await second.channel.request({ command: { case: "action", value: echoAction("twice") } }, undefined, "req-2");
      expect(r2.case === "result" && r2.value.stepCount).toBe(2);
      await second.channel.close();
      second.transport.close();
      await waitFor(() => server.router.sessions.active === 0);
    });

    it("frees the slot of a client that drops mid-step once the step finishes (no grace)", async () => {
      const server = await start(ScriptedEnvironment, { resumeGraceMs: 0 }, t);
      const { channel, transport } = rawChannel(server.url);
      await channel.request({ command: { case: "reset", value: {} } });
      const closedBefore = scriptedStats.closed;
      void channel.request({ command: { case: "action", value: echoAction("sleep:400") } }).catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
      await channel.cancel();
      transport.close();
      expect(server.router.sessions.active).toBe(1); // the step is still running
      await waitFor(() => server.router.sessions.active === 0, 5_000, "slot freed after the step");
      // Behind the gateway the environment closes when its upstream session does, just after.
      if (t.name === "gateway") await waitFor(() => scriptedStats.closed === closedBefore + 1, 5_000, "upstream environment closed");
      expect(scriptedStats.closed).toBe(closedBefore + 1);
    });
  });

  describe("graceful shutdown", () => {
    it("finishes running steps, ends open streams with UNAVAILABLE and closes every environment", async () => {
      const server = await start(ScriptedEnvironment, { shutdownTimeoutMs: 5_000 }, t);
      const idle = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await idle.reset();
      const busy = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await busy.reset();
      const raw = rawChannel(server.url);
      await raw.channel.request({ command: { case: "reset", value: {} } });
      const closedBefore = scriptedStats.closed;
      const running = busy.step({ message: "sleep:300" });
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await server.close();
      expect(Date.now() - t0).toBeLessThan(5_000);
      // The running step completed and its result was delivered.
      expect((await running).observation.echoedMessage).toBe("sleep:300");
      const err = await idle.step({ message: "after shutdown" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect(raw.channel.broken?.code).toBe(Code.Unavailable);
      expect(raw.channel.broken?.rawMessage).toBe("server shutting down");
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect(scriptedStats.closed).toBe(closedBefore + 3);
      raw.transport.close();
      expect(server.router.sessions.active).toBe(0);
      expect(server.listener.connections()).toBe(0);
      await Promise.all([idle.close(), busy.close()]);
    });

    it("refuses new sessions while draining", async () => {
      const server = await start(EchoEnvironment, {}, t);
      await server.close();
      const err = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unavailable);
    });
  });
});
