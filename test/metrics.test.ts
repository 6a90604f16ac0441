// GET /metrics scraped after driving known traffic: every transport's sessions,
// steps, errors and resumes are counted the same way, because they all end in
// the session core, where the metrics are fed.
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoStateSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { EnvClient, type EnvTransportKind } from "../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { metricValue, type Sample, scrape } from "./fixtures/prometheus.js";
import { RawWs } from "./fixtures/raw-ws.js";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.js";
import { rawChannel, rpcClient } from "./helpers.js";

let server: EnvironmentServer;
let proxy: TcpProxy;
beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0, replicaId: "m1", maxSessions: 8, resumeGraceMs: 10_000 });
  proxy = await startTcpProxy(server.port);
});
afterAll(async () => {
  await proxy.close();
  await server.close();
});

const counted = [
  "openenv_sessions_opened_total",
  "openenv_sessions_closed_total",
  "openenv_resets_total",
  "openenv_steps_total",
  "openenv_state_reads_total",
] as const;

/** The counters of interest, and the step histogram's count. */
function counts(samples: readonly Sample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of counted) out[name] = metricValue(samples, name);
  out.stepLatencyCount = metricValue(samples, "openenv_call_duration_seconds_count", { call: "step" });
  return out;
}

function delta(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

/** Waits until the scrape shows exactly one session since `before`: opened, reset once, `steps` steps, `states` state reads, closed. */
async function expectOneSession(before: Record<string, number>, steps: number, states: number): Promise<void> {
  await expect
    .poll(async () => delta(counts(await scrape(server.url)), before))
    .toEqual({
      openenv_sessions_opened_total: 1,
      openenv_sessions_closed_total: 1,
      openenv_resets_total: 1,
      openenv_steps_total: steps,
      openenv_state_reads_total: states,
      stepLatencyCount: steps,
    });
}

describe("GET /metrics", () => {
  it("is Prometheus text with the server's labels", async () => {
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const samples = await scrape(server.url);
    const open = samples.find((s) => s.name === "openenv_sessions_open");
    expect(open?.labels).toEqual({ environment: "echo", replica: "m1" });
    expect(metricValue(samples, "openenv_sessions_max")).toBe(8);
    expect(samples.some((s) => s.name === "process_cpu_user_seconds_total")).toBe(true);
  });

  it.each<EnvTransportKind>(["connect", "grpc", "grpc-web", "connect-json", "websocket", "http"])(
    "counts a session's reset, 3 steps, state read and close over %s the same way",
    async (transport) => {
      const before = counts(await scrape(server.url));
      const env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport });
      await env.reset();
      for (let i = 0; i < 3; i++) await env.step({ message: `m${i}` });
      await env.state();
      expect(metricValue(await scrape(server.url), "openenv_sessions_open")).toBe(1);
      await env.close();
      await expectOneSession(before, 3, 1);
    },
  );

  it("counts OpenEnv's stateless HTTP step as a session of its own (open, reset, step, close)", async () => {
    const before = counts(await scrape(server.url));
    const res = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: { message: "once" } }),
    });
    expect(res.status).toBe(200);
    await expectOneSession(before, 1, 0);
  });

  it("counts invalid actions from the Step stream, /ws and HTTP alike as invalid_argument errors", async () => {
    const errors = async () => metricValue(await scrape(server.url), "openenv_errors_total", { code: "invalid_argument" });
    const start = await errors();
    // A Step stream: an Any of the wrong type.
    const { channel, transport } = rawChannel(server.url, "grpc");
    await channel.request({ command: { case: "reset", value: {} } });
    const wrong = anyPack(EchoStateSchema, create(EchoStateSchema, {}));
    await expect(channel.request({ command: { case: "action", value: wrong } })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await channel.close();
    transport.close();
    // /ws: a field of the wrong JSON type.
    const ws = await RawWs.open(`${server.url.replace("http", "ws")}/ws`);
    await ws.askJson({ type: "reset", data: {} });
    expect(((await ws.askJson({ type: "step", data: { message: 5 } })) as { data: { code: string } }).data.code).toBe("VALIDATION_ERROR");
    ws.close();
    // HTTP: the same, answered 422.
    const res = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: { message: 5 } }),
    });
    expect(res.status).toBe(422);
    expect((await errors()) - start).toBe(3);
  });

  it("counts refused opens by code, calls for lost sessions, and resumes", async () => {
    const first = await scrape(server.url);
    // Fill the server (8 sessions), then one more open is refused.
    const { client, transport } = rpcClient(server.url);
    const held = await Promise.all(Array.from({ length: 8 }, () => client.reset({})));
    const refused = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport: "grpc", openRetry: false });
    await expect(refused.reset()).rejects.toMatchObject({ code: Code.ResourceExhausted });
    await refused.close();
    for (const h of held) await client.closeSession({ sessionId: h.sessionId });
    // A call for another replica's session.
    const lost = await client.state({ sessionId: "m2.abc.00000000-0000-4000-8000-000000000000" }).catch((e: unknown) => e);
    expect((lost as ConnectError).code).toBe(Code.NotFound);
    transport.close();
    // A dropped connection, resumed.
    const env = await EnvClient.connect({ baseUrl: proxy.url, spec: echoSpec, transport: "grpc" });
    await env.reset();
    proxy.dropAll();
    await env.step({ message: "after the drop" });
    expect(env.reconnects).toBeGreaterThanOrEqual(1);
    await env.close();
    const last = await scrape(server.url);
    const grew = (name: string, labels: Record<string, string> = {}) => metricValue(last, name, labels) - metricValue(first, name, labels);
    expect(grew("openenv_sessions_refused_total", { code: "resource_exhausted" })).toBe(1);
    expect(grew("openenv_errors_total", { code: "resource_exhausted" })).toBe(1);
    expect(grew("openenv_lost_session_calls_total")).toBe(1);
    expect(grew("openenv_errors_total", { code: "not_found" })).toBe(1);
    expect(grew("openenv_resumes_total")).toBe(1);
  });

  it("is off with metrics: false", async () => {
    const quiet = await serve(EchoEnvironment, { port: 0, metrics: false });
    try {
      expect((await fetch(`${quiet.url}/metrics`)).status).toBe(404);
    } finally {
      await quiet.close();
    }
  });
});
