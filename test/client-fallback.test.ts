import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationErrorsSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { EnvClient, type EnvClientOptions, type EnvTransportKind } from "../src/client/env-client.js";
import { GenericEnvClient } from "../src/client/generic-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { findCapacity } from "../src/protocol/errors.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { type H1Proxy, startH1Proxy } from "./fixtures/h1-proxy.js";
import { waitFor } from "./fixtures/raw-ws.js";
import { ScriptedEnvironment, scriptedSpec } from "./fixtures/scripted-env.js";

/**
 * The client's transport fallback: `auto` uses the HTTP/2 Step stream where it
 * can and OpenEnv's `/ws` (then HTTP) where it cannot, with the same typed
 * results; and the generic JSON client.
 */

let h2: EnvironmentServer; // speaks everything
let h1Only: EnvironmentServer; // HTTP/2 disabled
let proxy: H1Proxy; // HTTP/1.1-only path in front of the full server
let noUpgradeProxy: H1Proxy; // HTTP/1.1-only, no WebSocket either
let openenvLike: H1Proxy; // looks like an OpenEnv Python server: no Describe, no extensions

beforeAll(async () => {
  h2 = await serve(EchoEnvironment, { port: 0 });
  h1Only = await serve(EchoEnvironment, { port: 0, http2: false });
  proxy = await startH1Proxy(h2.url);
  noUpgradeProxy = await startH1Proxy(h2.url, { upgrades: false });
  openenvLike = await startH1Proxy(h2.url, { openenvOnly: true });
});
afterAll(async () => {
  await Promise.all([proxy.close(), noUpgradeProxy.close(), openenvLike.close()]);
  await Promise.all([h2.close(), h1Only.close()]);
});

/** The same episode on any transport: everything a caller can observe. */
async function episode(options: EnvClientOptions<typeof echoSpec.action, typeof echoSpec.observation, typeof echoSpec.state>) {
  const env = await EnvClient.connect(options);
  try {
    const results = [await env.reset({ seed: 7, episodeId: "fallback-ep", options: { level: 2 } })];
    for (const message of ["hi", "héllo wörld", ""]) results.push(await env.step({ message }));
    const state = await env.state();
    return { transport: env.transport, results, state, sessionId: env.sessionId };
  } finally {
    await env.close();
  }
}

describe("EnvClient transport: auto", () => {
  it("uses the bidi Step stream when the server speaks HTTP/2", async () => {
    const run = await episode({ baseUrl: h2.url, spec: echoSpec });
    expect(run.transport).toBe("connect");
  });

  it("ends on /ws against a server with HTTP/2 disabled, with identical typed results", async () => {
    const reference = await episode({ baseUrl: h2.url, spec: echoSpec, transport: "connect" });
    const fallback = await episode({ baseUrl: h1Only.url, spec: echoSpec });
    expect(fallback.transport).toBe("websocket");
    expect(fallback.results).toEqual(reference.results);
    expect(fallback.state).toEqual(reference.state);
    expect(fallback.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => h1Only.router.sessions.active === 0);
  });

  it("ends on /ws through an HTTP/1.1-only proxy, with identical typed results", async () => {
    const reference = await episode({ baseUrl: h2.url, spec: echoSpec, transport: "grpc" });
    const fallback = await episode({ baseUrl: proxy.url, spec: echoSpec });
    expect(fallback.transport).toBe("websocket");
    expect(fallback.results).toEqual(reference.results);
    expect(fallback.state).toEqual(reference.state);
  });

  it("ends on HTTP (stateful mode) when the path carries no WebSocket either", async () => {
    const reference = await episode({ baseUrl: h2.url, spec: echoSpec });
    const fallback = await episode({ baseUrl: noUpgradeProxy.url, spec: echoSpec });
    expect(fallback.transport).toBe("http");
    expect(fallback.results).toEqual(reference.results);
    expect(fallback.state).toEqual(reference.state);
    await waitFor(() => h2.router.sessions.active === 0);
  });

  it("learns the schemas from Describe over HTTP/1.1 when given none", async () => {
    await using env = await EnvClient.connect({ baseUrl: h1Only.url });
    expect(env.transport).toBe("websocket");
    expect(env.info?.actionType).toBe("openenv.envs.echo.v1.EchoAction");
    await env.reset();
    const r = await env.step({ message: "dynamic" } as never);
    const obs = r.observation as unknown as { $typeName: string; echoedMessage: string };
    expect(obs.$typeName).toBe("openenv.envs.echo.v1.EchoObservation");
    expect(obs.echoedMessage).toBe("dynamic");
  });

  it("still refuses a spec for another environment over the fallback", async () => {
    const wrong = { ...echoSpec, action: echoSpec.state };
    const err = await EnvClient.connect({ baseUrl: h1Only.url, spec: wrong }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
  });

  it("a forced HTTP/2 transport against an HTTP/1.1-only server fails with a ConnectError, and close() is safe", async () => {
    const env = new EnvClient({ baseUrl: h1Only.url, spec: echoSpec, transport: "connect" });
    const err = await env.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    await env.close();
    // The failed HTTP/2 session reports its error late; an unhandled 'error' here would fail the run.
    await new Promise((r) => setTimeout(r, 300));
    expect(env.transport).toBe("connect");
  });

  it("reports an unreachable server as UNAVAILABLE", async () => {
    const gone = await serve(EchoEnvironment, { port: 0 });
    const url = gone.url;
    await gone.close();
    const err = await EnvClient.connect({ baseUrl: url, spec: echoSpec, probeTimeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
  });
});

describe("explicit OpenEnv transports", () => {
  it.each(["websocket", "http"] as const)("%s gives the same typed results as connect, on the same server", async (transport) => {
    const reference = await episode({ baseUrl: h2.url, spec: echoSpec, transport: "connect" });
    const run = await episode({ baseUrl: h2.url, spec: echoSpec, transport });
    expect(run.transport).toBe(transport);
    expect(run.results).toEqual(reference.results);
    expect(run.state).toEqual(reference.state);
  });

  it.each(["connect", "websocket", "http"] as const satisfies readonly EnvTransportKind[])(
    "errors keep their codes and details over %s",
    async (transport) => {
      await using server = await serve(ScriptedEnvironment, { port: 0 });
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec, transport });
      await env.reset();
      const done = await env.step({ message: "done" });
      expect([done.done, done.terminated, done.truncated, done.reward]).toEqual([true, true, false, 1]);
      const after = await env.step({ message: "again" }).catch((e: unknown) => e);
      expect((after as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((after as ConnectError).rawMessage).toMatch(/is over; reset to start a new one/);
      await env.reset();
      const thrown = await env.step({ message: "throw:kaputt" }).catch((e: unknown) => e);
      expect((thrown as ConnectError).code).toBe(Code.Internal);
      expect((thrown as ConnectError).rawMessage).toBe("kaputt");
    },
  );

  it.each(["connect", "websocket", "http"] as const satisfies readonly EnvTransportKind[])(
    "a field-rule violation is INVALID_ARGUMENT with the field named, over %s",
    async (transport) => {
      await using env = await EnvClient.connect({ baseUrl: h2.url, spec: echoSpec, transport });
      await env.reset();
      const err = await env.step({ message: "x".repeat(1048577) }).catch((e: unknown) => e);
      expect((err as ConnectError).code).toBe(Code.InvalidArgument);
      const [details] = (err as ConnectError).findDetails(ValidationErrorsSchema);
      expect(details?.violations.map((v) => v.field)).toEqual(["message"]);
    },
  );

  it.each(["connect", "websocket"] as const satisfies readonly EnvTransportKind[])(
    "capacity is RESOURCE_EXHAUSTED with the counts, over %s",
    async (transport) => {
      await using server = await serve(EchoEnvironment, { port: 0, maxSessions: 1 });
      await using holder = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport });
      await holder.reset();
      await using second = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport });
      const err = await second.reset().catch((e: unknown) => e);
      expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
      expect(findCapacity(err as ConnectError)).toEqual({ activeSessions: 1, maxSessions: 1 });
    },
  );
});

describe("against an OpenEnv-style server (no Describe, no extensions)", () => {
  it("auto ends on /ws and decodes OpenEnv JSON into the typed messages", async () => {
    const reference = await episode({ baseUrl: h2.url, spec: echoSpec });
    const run = await episode({ baseUrl: openenvLike.url, spec: echoSpec });
    expect(run.transport).toBe("websocket");
    expect(run.sessionId).toBeUndefined();
    // Observation, reward, done, metadata, state come from the wire; step counts and the episode id are tracked by the client.
    expect(run.results).toEqual(reference.results);
    expect(run.state).toEqual(reference.state);
  });

  it("without a spec it says to pass one or use GenericEnvClient", async () => {
    const err = await EnvClient.connect({ baseUrl: openenvLike.url }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toMatch(/GenericEnvClient/);
  });
});

describe("GenericEnvClient", () => {
  it.each([
    ["websocket", () => h2.url],
    ["http", () => h2.url],
    ["auto", () => noUpgradeProxy.url],
    ["websocket", () => openenvLike.url],
  ] as const)("plain JSON in and out over %s", async (transport, url) => {
    await using env = await GenericEnvClient.connect({ baseUrl: url(), transport });
    expect(env.transport).toBe(transport === "auto" ? "http" : transport);
    const reset = await env.reset({ seed: 1, episode_id: "generic" });
    expect(reset).toMatchObject({ observation: { echoed_message: "Echo environment ready!", message_length: 0 }, reward: 0, done: false });
    const step = await env.step({ message: "hey" });
    expect(step.observation).toEqual({ echoed_message: "hey", message_length: 3 });
    expect(step.reward).toBeCloseTo(0.3);
    expect(step.metadata).toEqual({ original_message: "hey", step: 1 });
    expect(await env.state()).toEqual({ episode_id: "generic", step_count: 1, total_characters: 3 });
    const bad = await env.step({ msg: "x" }).catch((e: unknown) => e);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toContain("msg: Extra inputs are not permitted");
  });

  it("accepts ws:// URLs like OpenEnv's client", async () => {
    await using env = await GenericEnvClient.connect({ baseUrl: h2.url.replace("http://", "ws://") });
    expect((await env.reset()).done).toBe(false);
  });
});
