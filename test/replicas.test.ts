// Replicas without a balancer: a server started with a replica id issues
// routable session ids, answers a call for another replica's session (or one of
// its own earlier life) with NOT_FOUND + SessionLost on every transport, and
// drains on close (health NOT_SERVING, opens refused, open sessions finish).
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.js";
import { EchoActionSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { SessionLostSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { createTransport, type OwnedTransport } from "../src/client/transports.js";
import { replicaIdentity, replicaOf } from "../src/core/replica.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { findSessionLost } from "../src/protocol/errors.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { echoAction, rawChannel, rpcClient } from "./helpers.js";

const servers: EnvironmentServer[] = [];
const transports: OwnedTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) t.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function replica(id: string, options: Parameters<typeof serve>[1] = {}): Promise<EnvironmentServer> {
  const server = await serve(EchoEnvironment, { port: 0, replicaId: id, ...options });
  servers.push(server);
  return server;
}

function rpc(url: string, kind: "connect" | "grpc" | "grpc-web" = "connect") {
  const { client, transport } = rpcClient(url, kind);
  transports.push(transport);
  return client;
}

const foreign = "r2.abc123.7f3c0000-0000-4000-8000-000000000000";

describe("replica session ids", () => {
  it("starts every session id with the replica id and the boot nonce", async () => {
    const server = await replica("r1");
    const self = server.router.sessions.replica;
    expect(self?.id).toBe("r1");
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
    await env.reset();
    const owner = replicaOf(env.sessionId ?? "");
    expect(owner).toEqual({ id: "r1", boot: self?.boot });
    expect(env.sessionId).toMatch(/^r1\.[a-z0-9]{8}\.[0-9a-f-]{36}$/);
  });

  it("refuses a malformed replica id", async () => {
    await expect(serve(EchoEnvironment, { port: 0, replicaId: "r1.x" })).rejects.toThrow(/replica id 'r1.x'/);
    expect(() => replicaIdentity("")).toThrow(RangeError);
  });

  it("answers a session of another replica with NOT_FOUND and SessionLost naming it, on every RPC protocol", async () => {
    const server = await replica("r1");
    for (const kind of ["connect", "grpc", "grpc-web"] as const) {
      const err = await rpc(server.url, kind)
        .state({ sessionId: foreign })
        .catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.NotFound);
      expect((err as ConnectError).rawMessage).toContain("replica r2, which held it, is not serving");
      expect((err as ConnectError).rawMessage).toContain("sent this call to replica r1");
      expect(findSessionLost(err as ConnectError)).toEqual({ sessionId: foreign, holder: "r2" });
    }
    // Unary Reset naming the session, and CloseSession, say the same.
    const reset = await rpc(server.url)
      .reset({ sessionId: foreign })
      .catch((e: unknown) => ConnectError.from(e));
    expect(findSessionLost(reset as ConnectError)?.holder).toBe("r2");
  });

  it("answers a Step stream that resumes another replica's session in-band, and the stream stays usable", async () => {
    const server = await replica("r1");
    const { channel, transport } = rawChannel(server.url, "grpc");
    transports.push(transport);
    const err = await channel.request({ sessionId: foreign, command: { case: "action", value: echoAction("x") } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect(findSessionLost(err as ConnectError)).toEqual({ sessionId: foreign, holder: "r2" });
    const reply = await channel.request({ command: { case: "reset", value: {} } });
    expect(reply.case).toBe("result");
    expect(channel.sessionId?.startsWith("r1.")).toBe(true);
    await channel.close();
  });

  it("answers OpenEnv's stateful HTTP and JSON-RPC for another replica's session with the lost session", async () => {
    const server = await replica("r1");
    const step = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "content-type": "application/json", "openenv-session-id": foreign },
      body: JSON.stringify({ action: { message: "x" } }),
    });
    expect(step.status).toBe(404);
    const body = (await step.json()) as Record<string, unknown>;
    expect(body.code).toBe("not_found");
    expect(body.session_lost).toEqual({ session_id: foreign, holder: "r2" });
    expect(String(body.detail)).toContain("replica r2, which held it, is not serving");
    const mcp = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "openenv/session/close", params: { session_id: foreign } }),
    });
    const answer = (await mcp.json()) as { error: { code: number; message: string; data: unknown } };
    expect(answer.error.code).toBe(-32602);
    expect(answer.error.message).toContain(`Unknown session_id: ${foreign} (session '${foreign}' was lost`);
    expect(answer.error.data).toEqual({ session_lost: { session_id: foreign, holder: "r2" } });
  });

  it("knows the ids of its earlier life after a restart, and only those are lost", async () => {
    const first = await replica("r1");
    const client = rpc(first.url);
    const opened = await client.reset({});
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    const second = await replica("r1", { port: first.port });
    const err = await rpc(second.url)
      .state({ sessionId: opened.sessionId })
      .catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toContain("replica r1 restarted since it opened the session");
    expect(findSessionLost(err as ConnectError)).toEqual({ sessionId: opened.sessionId, holder: "r1" });
    // An unknown id of this very life is plain NOT_FOUND, without the detail.
    const self = second.router.sessions.replica;
    const unknown = `r1.${self?.boot}.00000000-0000-4000-8000-000000000000`;
    const plain = await rpc(second.url)
      .state({ sessionId: unknown })
      .catch((e: unknown) => ConnectError.from(e));
    expect((plain as ConnectError).code).toBe(Code.NotFound);
    expect((plain as ConnectError).findDetails(SessionLostSchema)).toEqual([]);
  });

  it("a server without a replica id keeps plain UUIDs and plain NOT_FOUND", async () => {
    const server = await serve(EchoEnvironment, { port: 0 });
    servers.push(server);
    const opened = await rpc(server.url).reset({});
    expect(opened.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const err = await rpc(server.url)
      .state({ sessionId: foreign })
      .catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect(findSessionLost(err as ConnectError)).toBeUndefined();
  });
});

describe("draining", () => {
  it("reports NOT_SERVING at once on close, refuses new sessions, lets open ones finish, then shuts down", async () => {
    const server = await replica("r1", { drainTimeoutMs: 30_000 });
    const transport = createTransport({ kind: "grpc", baseUrl: server.url });
    transports.push(transport);
    const health = createClient(Health, transport.transport);
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport: "grpc" });
    await env.reset();
    const closing = server.close();
    let closed = false;
    void closing.then(() => (closed = true));
    await expect.poll(async () => (await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    const http = await fetch(`${server.url}/health`);
    expect(http.status).toBe(503);
    // A new session is refused with UNAVAILABLE, naming the replica...
    const refused = await rpc(server.url)
      .reset({})
      .catch((e: unknown) => ConnectError.from(e));
    expect((refused as ConnectError).code).toBe(Code.Unavailable);
    expect((refused as ConnectError).rawMessage).toContain("replica r1 is shutting down and takes no new sessions");
    // ...while the open one keeps stepping.
    const r = await env.step(create(EchoActionSchema, { message: "still here" }));
    expect(r.observation.echoedMessage).toBe("still here");
    expect(closed).toBe(false);
    await env.close();
    await closing;
    servers.splice(servers.indexOf(server), 1);
  });
});
