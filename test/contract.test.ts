import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoActionSchema, EchoStateSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { EnvironmentService } from "../gen/openenv/v1/environment_service_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { StepChannel } from "../src/client/step-channel.js";
import { connectStepStream } from "../src/client/step-streams.js";
import { createTransport } from "../src/client/transports.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { createEnvironmentRouter } from "../src/server/router.js";
import type { EnvironmentServer } from "../src/server/serve.js";
import { waitFor } from "./fixtures/wait-for.js";
import { targets } from "./targets.js";

// Every Step-stream test here runs against our server and against `openenv gateway` in front of the
// same environment served over OpenEnv's protocol only (test/targets.ts).
describe.each(targets)("against the $name", (t) => {
  let server: EnvironmentServer;
  let generic: EnvironmentServer;

  beforeAll(async () => {
    server = await t.serve(EchoEnvironment, { port: 0 });
    generic = await t.serve(EchoEnvironment, { port: 0, fastPath: false });
  });
  afterAll(async () => {
    await Promise.all([server.close(), generic.close()]);
  });

  const matrix = (["connect", "connect-json", "grpc", "grpc-web"] as const).flatMap((transport) => [
    { transport, fastPath: true, label: "fast path" },
    { transport, fastPath: false, label: "connect-node both ends" },
  ]);

  describe.each(matrix)("echo over $transport (h2c, $label)", ({ transport, fastPath }) => {
    it("resets, steps, reads state and closes the session", async () => {
      const target = fastPath ? server : generic;
      const env = await EnvClient.connect({ baseUrl: target.url, spec: echoSpec, transport, fastPath });
      expect(env.info?.actionType).toBe("openenv.envs.echo.v1.EchoAction");
      const first = await env.reset({ seed: 7, episodeId: "ep-1" });
      expect(first.observation.echoedMessage).toBe("Echo environment ready!");
      expect(first.episodeId).toBe("ep-1");
      expect(first.done).toBe(false);
      const sessionId = env.sessionId;
      expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const messages = ["hi", "hello", "héllo wörld"];
      for (const [i, message] of messages.entries()) {
        const r = await env.step({ message });
        expect(r.observation.echoedMessage).toBe(message);
        expect(r.observation.messageLength).toBe([...message].length);
        expect(r.reward).toBeCloseTo(0.1 * [...message].length);
        expect(r.stepCount).toBe(i + 1);
        expect(r.metadata).toEqual({ original_message: message, step: i + 1 });
        expect(r.terminated || r.truncated || r.done).toBe(false);
      }
      const state = await env.state();
      expect(state.$typeName).toBe("openenv.envs.echo.v1.EchoState");
      expect(state.stepCount).toBe(3);
      expect(state.episodeId).toBe("ep-1");
      expect(state.totalCharacters).toBe(BigInt(2 + 5 + 11));
      expect(target.router.sessions.find(sessionId as string)).toBeDefined();
      await env.close();
      await waitFor(() => target.router.sessions.find(sessionId as string) === undefined);
    });

    it("accepts a generated message as the action", async () => {
      await using env = await EnvClient.connect({ baseUrl: (fastPath ? server : generic).url, spec: echoSpec, transport, fastPath });
      await env.reset();
      const r = await env.step(create(EchoActionSchema, { message: "typed" }));
      expect(r.observation.echoedMessage).toBe("typed");
    });
  });

  describe("Step stream", () => {
    it("echoes request ids, even when requests are pipelined", async () => {
      const rpc = createTransport({ kind: "connect", baseUrl: server.url });
      const channel = new StepChannel(connectStepStream(createClient(EnvironmentService, rpc.transport)));
      const reset = await channel.request({ command: { case: "reset", value: {} } }, undefined, "my-reset");
      expect(reset.case).toBe("result");
      const pipelined = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          channel.request(
            { command: { case: "action", value: anyPack(EchoActionSchema, create(EchoActionSchema, { message: `m${i}` })) } },
            undefined,
            `req-${i}`,
          ),
        ),
      );
      pipelined.forEach((reply, i) => {
        expect(reply.case).toBe("result");
        if (reply.case === "result") expect(reply.value.stepCount).toBe(i + 1);
      });
      await channel.close();
      rpc.close();
    });

    it("runs many episodes on one stream", async () => {
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
      const sessions = new Set<string>();
      for (let episode = 0; episode < 5; episode++) {
        const r = await env.reset({ episodeId: `episode-${episode}` });
        expect(r.episodeId).toBe(`episode-${episode}`);
        expect(r.stepCount).toBe(0);
        for (let i = 0; i < 3; i++) expect((await env.step({ message: "x" })).stepCount).toBe(i + 1);
        sessions.add(env.sessionId as string);
      }
      expect(sessions.size).toBe(1);
    });

    it("learns the schemas from Describe when given none", async () => {
      await using env = await EnvClient.connect({ baseUrl: server.url });
      await env.reset();
      const r = await env.step({ message: "dynamic" } as never);
      const obs = r.observation as unknown as { echoedMessage: string; $typeName: string };
      expect(obs.$typeName).toBe("openenv.envs.echo.v1.EchoObservation");
      expect(obs.echoedMessage).toBe("dynamic");
    });

    it("refuses a client built for another environment", async () => {
      const wrong = { ...echoSpec, action: EchoStateSchema };
      const err = await EnvClient.connect({ baseUrl: server.url, spec: wrong }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((err as ConnectError).message).toContain("openenv.envs.echo.v1.EchoAction");
    });
  });

  describe("Connect unary over HTTP/1.1 on the same port", () => {
    it("serves Reset, State, Describe and CloseSession", async () => {
      const transport = createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        jsonOptions: { registry: server.router.registry },
      });
      const client = createClient(EnvironmentService, transport);
      const reset = await client.reset({ seed: 3n });
      expect(reset.sessionId).not.toBe("");
      expect(reset.result?.observation?.typeUrl).toBe("type.googleapis.com/openenv.envs.echo.v1.EchoObservation");
      const state = await client.state({ sessionId: reset.sessionId });
      expect(state.stepCount).toBe(0);
      const info = await client.describe({});
      expect(info.metadata?.name).toBe("echo");
      expect(info.limits?.maxSessions).toBe(64);
      expect(info.jsonSchemas?.action).toMatchObject({
        title: "EchoAction",
        properties: { message: { type: "string", maxLength: 1048576 } },
      });
      expect((await client.closeSession({ sessionId: reset.sessionId })).closed).toBe(true);
      expect((await client.closeSession({ sessionId: reset.sessionId })).closed).toBe(false);
    });

    it("answers plain fetch() with JSON, and Describe over GET", async () => {
      const res = await fetch(`${server.url}/openenv.v1.EnvironmentService/Reset`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ seed: "5", episodeId: "json-ep" }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { sessionId: string; result: { observation: Record<string, unknown>; episodeId: string } };
      expect(body.result.episodeId).toBe("json-ep");
      expect(body.result.observation).toEqual({
        "@type": "type.googleapis.com/openenv.envs.echo.v1.EchoObservation",
        echoedMessage: "Echo environment ready!",
      });
      const get = await fetch(`${server.url}/openenv.v1.EnvironmentService/Describe?connect=v1&encoding=json&message=%7B%7D`);
      expect(get.status).toBe(200);
      expect(((await get.json()) as { actionType: string }).actionType).toBe("openenv.envs.echo.v1.EchoAction");
      await fetch(`${server.url}/openenv.v1.EnvironmentService/CloseSession`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ sessionId: body.sessionId }),
      });
    });

    it("Step over HTTP/1.1: binary Connect is served half-duplex (for browsers, test/web); JSON goes to connect-node, which answers 505", async () => {
      const binary = await fetch(`${server.url}/openenv.v1.EnvironmentService/Step`, {
        method: "POST",
        headers: { "content-type": "application/connect+proto" },
        body: new Uint8Array(0),
      });
      expect(binary.status).toBe(200);
      const end = new Uint8Array(await binary.arrayBuffer());
      expect(end[0]).toBe(2); // only the end-of-stream message: no requests, no replies
      const json = await fetch(`${server.url}/openenv.v1.EnvironmentService/Step`, {
        method: "POST",
        headers: { "content-type": "application/connect+json" },
        body: new Uint8Array(toBinary(EchoActionSchema, create(EchoActionSchema))),
      });
      expect(json.status).toBe(505);
    });
  });
});

describe("in-process transport", () => {
  it("runs a rollout with no network", async () => {
    const router = createEnvironmentRouter(EchoEnvironment);
    await using env = await EnvClient.connect({ spec: echoSpec, transport: "in-process", router });
    await env.reset();
    expect((await env.step({ message: "local" })).observation.echoedMessage).toBe("local");
    expect(router.sessions.active).toBe(1);
    await env.close();
    await waitFor(() => router.sessions.active === 0);
    await router.close();
  });
});
