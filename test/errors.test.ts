import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoStateSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { CapacityInfoSchema, ValidationErrorsSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import type { EnvironmentServer } from "../src/server/serve.js";
import { ScriptedEnvironment, scriptedSpec } from "./fixtures/scripted-env.js";
import { echoAction, rawChannel, rpcClient } from "./helpers.js";
import { targets } from "./targets.js";

// Runs against our server and against `openenv gateway` in front of it (test/targets.ts).
describe.each(targets)("against the $name", (t) => {
  let server: EnvironmentServer;
  let echo: EnvironmentServer;

  beforeAll(async () => {
    server = await t.serve(ScriptedEnvironment, { port: 0, stepTimeoutMs: 2_000, abortGraceMs: 300 });
    echo = await t.serve(EchoEnvironment, { port: 0, maxSessions: 2 });
  });
  afterAll(async () => {
    await Promise.all([server.close(), echo.close()]);
  });

  async function codeOf(p: Promise<unknown>): Promise<ConnectError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }

  describe.each(["connect", "grpc", "grpc-web"] as const)("typed errors over %s", (kind) => {
    it("rejects an action of the wrong Any type, naming the expected type, and keeps the stream", async () => {
      const { channel, transport } = rawChannel(echo.url, kind);
      await channel.request({ command: { case: "reset", value: {} } });
      const wrong = anyPack(EchoStateSchema, create(EchoStateSchema, { stepCount: 1 }));
      const err = await codeOf(channel.request({ command: { case: "action", value: wrong } }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("action: expected type openenv.envs.echo.v1.EchoAction, got 'openenv.envs.echo.v1.EchoState'");
      const ok = await channel.request({ command: { case: "action", value: echoAction("still here") } });
      expect(ok.case).toBe("result");
      await channel.close();
      transport.close();
    });

    it("rejects undecodable action bytes", async () => {
      const { channel, transport } = rawChannel(echo.url, kind);
      await channel.request({ command: { case: "reset", value: {} } });
      const garbage = { typeUrl: "type.googleapis.com/openenv.envs.echo.v1.EchoAction", value: new Uint8Array([0x0a, 0xff, 0x01]) };
      const err = await codeOf(channel.request({ command: { case: "action", value: garbage } }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(/^action: cannot decode openenv\.envs\.echo\.v1\.EchoAction: /);
      await channel.close();
      transport.close();
    });

    it("answers step before reset with FAILED_PRECONDITION", async () => {
      const { channel, transport } = rawChannel(echo.url, kind);
      const err = await codeOf(channel.request({ command: { case: "action", value: echoAction("too early") } }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(err.rawMessage).toContain("step before reset");
      await channel.close();
      transport.close();
    });

    it("answers an unknown session with NOT_FOUND, in-stream and over unary calls", async () => {
      const { channel, transport } = rawChannel(echo.url, kind);
      const err = await codeOf(channel.request({ sessionId: "no-such-session", command: { case: "state", value: {} } }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe("session 'no-such-session' not found");
      await channel.close();
      transport.close();
      const { client, transport: t2 } = rpcClient(echo.url, kind);
      expect((await codeOf(client.state({ sessionId: "nope" }))).code).toBe(Code.NotFound);
      expect((await codeOf(client.reset({ sessionId: "nope" }))).code).toBe(Code.NotFound);
      t2.close();
    });
  });

  describe("environment failures", () => {
    it("reports a throwing step as INTERNAL with its message; the session and stream stay usable", async () => {
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await env.reset();
      const err = await codeOf(env.step({ message: "throw:kaputt" }));
      expect(err.code).toBe(Code.Internal);
      expect(err.rawMessage).toBe("kaputt");
      const r = await env.step({ message: "fine" });
      expect(r.observation.echoedMessage).toBe("fine");
      expect(r.stepCount).toBe(1);
    });

    it("passes through the code of a ConnectError thrown by the environment", async () => {
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await env.reset();
      const err = await codeOf(env.step({ message: "fail:InvalidArgument" }));
      expect(err.code).toBe(Code.InvalidArgument);
    });

    it("stops a step at its deadline with DEADLINE_EXCEEDED and aborts the environment", async () => {
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await env.reset();
      const err = await codeOf(env.step({ message: "sleep:5000" }, { timeoutMs: 100 }));
      expect(err.code).toBe(Code.DeadlineExceeded);
      if (t.name === "gateway") {
        // OpenEnv's /ws cannot cancel a step, and its reply would answer the next request: the
        // gateway ends the episode instead (test/gateway/gateway.test.ts has the whole story).
        expect((await codeOf(env.step({ message: "after" }))).code).toBe(Code.FailedPrecondition);
        await env.reset();
      }
      expect((await env.step({ message: "after" })).observation.echoedMessage).toBe("after");
    });

    it("closes only its own session when an environment ignores its deadline", async () => {
      await using other = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await other.reset();
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await env.reset();
      const err = await codeOf(env.step({ message: "hang" }, { timeoutMs: 100 }));
      expect(err.code).toBe(Code.DeadlineExceeded);
      // After the abort grace, the hung session is closed and its stream ends with ABORTED
      // (the gateway ends the episode at once: FAILED_PRECONDITION until a reset).
      const next = await codeOf(env.step({ message: "x" }));
      expect(t.name === "gateway" ? [Code.FailedPrecondition] : [Code.Aborted, Code.NotFound]).toContain(next.code);
      expect((await other.step({ message: "unaffected" })).observation.echoedMessage).toBe("unaffected");
    });

    it("validates actions against the proto's field rules", async () => {
      const { channel, transport } = rawChannel(echo.url);
      await channel.request({ command: { case: "reset", value: {} } });
      const err = await codeOf(channel.request({ command: { case: "action", value: echoAction("x".repeat(1048577)) } }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe("invalid action: message: value must have at most 1048576 characters");
      const [detail] = err.findDetails(ValidationErrorsSchema);
      expect(detail?.violations).toEqual([expect.objectContaining({ field: "message", rule: "max_len" })]);
      await channel.close();
      transport.close();
    });

    it("refuses a step on a finished episode until reset", async () => {
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
      await env.reset();
      const done = await env.step({ message: "done" });
      expect([done.done, done.terminated, done.truncated]).toEqual([true, true, false]);
      const err = await codeOf(env.step({ message: "more" }));
      expect(err.code).toBe(Code.FailedPrecondition);
      await env.reset();
      const t = await env.step({ message: "truncate" });
      expect([t.done, t.terminated, t.truncated]).toEqual([true, false, true]);
    });
  });

  describe("capacity", () => {
    it("answers RESOURCE_EXHAUSTED with active/max in the details", async () => {
      const a = await EnvClient.connect({ baseUrl: echo.url, spec: echoSpec });
      const b = await EnvClient.connect({ baseUrl: echo.url, spec: echoSpec });
      await a.reset();
      await b.reset();
      await using c = await EnvClient.connect({ baseUrl: echo.url, spec: echoSpec });
      const err = await codeOf(c.reset());
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.rawMessage).toBe("Server at capacity: 2/2 sessions active. Cannot accept new connections.");
      const [info] = err.findDetails(CapacityInfoSchema);
      expect(info).toMatchObject({ activeSessions: 2, maxSessions: 2 });
      const { client, transport } = rpcClient(echo.url, "grpc");
      expect((await codeOf(client.reset({}))).code).toBe(Code.ResourceExhausted);
      transport.close();
      await a.close();
      // A freed slot is usable again.
      expect((await c.reset()).observation.echoedMessage).toBe("Echo environment ready!");
      await b.close();
    });
  });
});
