import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import type { ReconnectEvent } from "../src/client/rpc-backend.js";
import type { EnvironmentServer } from "../src/server/serve.js";
import { ScriptedEnvironment, scriptedSpec, scriptedStats } from "./fixtures/scripted-env.js";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.js";
import { targets } from "./targets.js";

// Runs against our server and against `openenv gateway` in front of it (test/targets.ts).
describe.each(targets)("against the $name", (t) => {
  let server: EnvironmentServer;
  let proxy: TcpProxy;

  beforeAll(async () => {
    server = await t.serve(ScriptedEnvironment, { port: 0, resumeGraceMs: 10_000 });
    proxy = await startTcpProxy(server.port);
  });
  afterAll(async () => {
    await proxy.close();
    await server.close();
  });

  // OpenEnv's /ws resumes too on our server (?session_id=); the gateway's upstream socket is its own.
  describe.each(
    t.name === "server"
      ? (["connect", "grpc", "grpc-web", "connect-json", "websocket"] as const)
      : (["connect", "grpc", "grpc-web", "connect-json"] as const),
  )("EnvClient resumes its session after a dropped connection (%s)", (transport) => {
    it("between steps: the next step re-attaches the same session", async () => {
      const events: ReconnectEvent[] = [];
      await using env = await EnvClient.connect({
        baseUrl: proxy.url,
        spec: scriptedSpec,
        transport,
        onReconnect: (e) => events.push(e),
      });
      await env.reset();
      for (let i = 1; i <= 3; i++) expect((await env.step({ message: `a${i}` })).stepCount).toBe(i);
      const session = env.sessionId;
      proxy.dropAll();
      const r = await env.step({ message: "after the blip" });
      expect(r.observation.echoedMessage).toBe("after the blip");
      expect(r.stepCount).toBe(4);
      expect(env.sessionId).toBe(session);
      expect(env.reconnects).toBeGreaterThanOrEqual(1);
      expect(events[0]?.sessionId).toBe(session);
      expect(events[0]?.error).toBeInstanceOf(ConnectError);
    });

    it("mid-step: the retried request is answered from the session's record, never applied twice", async () => {
      await using env = await EnvClient.connect({ baseUrl: proxy.url, spec: scriptedSpec, transport });
      await env.reset();
      const appliedBefore = scriptedStats.applied;
      const pending = env.step({ message: "sleep:300" });
      await new Promise((r) => setTimeout(r, 100));
      proxy.dropAll();
      const r = await pending;
      expect(r.observation.echoedMessage).toBe("sleep:300");
      expect(r.stepCount).toBe(1);
      expect(scriptedStats.applied).toBe(appliedBefore + 1);
      expect((await env.step({ message: "next" })).stepCount).toBe(2);
      expect(scriptedStats.applied).toBe(appliedBefore + 2);
    });
  });

  describe("bounded retries", () => {
    it("gives up after the configured attempts with the stream's error", async () => {
      const events: ReconnectEvent[] = [];
      const local = await t.serve(ScriptedEnvironment, { port: 0, resumeGraceMs: 10_000 });
      const p = await startTcpProxy(local.port);
      const env = await EnvClient.connect({
        baseUrl: p.url,
        spec: scriptedSpec,
        transport: "grpc",
        retry: { attempts: 2, backoffMs: 10 },
        onReconnect: (e) => events.push(e),
      });
      await env.reset();
      await p.close(); // nothing listens any more: every attempt fails
      const err = await env.step({ message: "x" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect(events.map((e) => e.attempt)).toEqual([1, 2]);
      await env.close();
      await local.close();
    });

    it("does not retry in-band errors (the server's answer)", async () => {
      const events: ReconnectEvent[] = [];
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec, onReconnect: (e) => events.push(e) });
      await env.reset();
      await expect(env.step({ message: "throw:once" })).rejects.toThrow("once");
      expect(events).toEqual([]);
    });
  });
});
