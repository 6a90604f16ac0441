import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import { VectorEnv } from "../src/client/vector-env.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

// User interceptors must run on every call of every RPC transport, the Step stream
// included, whichever way the client writes it (issue 13 item 11: the direct HTTP/2
// Step path used to skip them, so auth added by an interceptor failed on Step).

const TOKEN = "interceptor-token";
let server: EnvironmentServer;

beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0, auth: { tokens: [TOKEN] } });
});
afterAll(async () => {
  await server.close();
});

/** Adds the bearer token, and records which methods it saw. */
function bearer(seen: string[]): Interceptor {
  return (next) => async (req) => {
    seen.push(req.method.name);
    req.header.set("authorization", `Bearer ${TOKEN}`);
    return next(req);
  };
}

/** Counts the messages that pass through it in each direction of a streaming call. */
function messageCounter(counts: { sent: number; received: number }): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) return next(req);
    const outgoing = req.message;
    const res = await next({
      ...req,
      message: (async function* () {
        for await (const m of outgoing) {
          counts.sent++;
          yield m;
        }
      })(),
    });
    if (!res.stream) return res;
    const incoming = res.message;
    return {
      ...res,
      message: (async function* () {
        for await (const m of incoming) {
          counts.received++;
          yield m;
        }
      })(),
    };
  };
}

const transports = ["grpc", "connect", "grpc-web", "connect-json"] as const;

describe("user interceptors", () => {
  for (const fastPath of [true, false]) {
    it.each(transports)(`add auth to Describe and Step over %s (fastPath: ${fastPath})`, async (transport) => {
      const seen: string[] = [];
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport, fastPath, interceptors: [bearer(seen)] });
      await env.reset();
      expect((await env.step({ message: "through an interceptor" })).observation.echoedMessage).toBe("through an interceptor");
      expect((await env.state()).stepCount).toBe(1);
      expect(seen).toEqual(["Describe", "Step"]);
    });
  }

  it.each(["grpc", "connect", "grpc-web"] as const)("see every Step message in both directions over %s", async (transport) => {
    const seen: string[] = [];
    const counts = { sent: 0, received: 0 };
    await using env = await EnvClient.connect({
      baseUrl: server.url,
      spec: echoSpec,
      transport,
      interceptors: [bearer(seen), messageCounter(counts)],
    });
    await env.reset();
    await env.step({ message: "a" });
    await env.step({ message: "b" });
    expect(counts).toEqual({ sent: 3, received: 3 });
  });

  it("run on the shared connection of a VectorEnv", async () => {
    const seen: string[] = [];
    await using vec = await VectorEnv.connect({
      baseUrl: server.url,
      spec: echoSpec,
      count: 2,
      transport: "grpc",
      interceptors: [bearer(seen)],
    });
    await vec.resetAll();
    const results = await vec.stepAll([{ message: "x" }, { message: "y" }]);
    expect(results.map((r) => r.observation.echoedMessage)).toEqual(["x", "y"]);
    expect(seen.filter((m) => m === "Step")).toHaveLength(2);
  });

  it("can refuse a Step stream before it opens", async () => {
    const refuse: Interceptor = (next) => async (req) => {
      if (req.method.name === "Step") throw new ConnectError("no streams today", Code.PermissionDenied);
      return next(req);
    };
    await using env = await EnvClient.connect({
      baseUrl: server.url,
      spec: echoSpec,
      transport: "grpc",
      interceptors: [bearer([]), refuse],
    });
    const err = await env.reset().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.PermissionDenied);
  });
});
