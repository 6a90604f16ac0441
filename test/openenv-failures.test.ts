// The failures OpenEnv users report (reference openenv.md §5), each reproduced against
// this server: replies that go to the wrong call after a timeout (#1143), connections
// that die and never recover (#1103), session slots leaked by vanished clients until
// the server refuses everyone (#1000), long steps exceeding client timeouts (#1005).
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import { type EnvironmentServer, type ServeOptions, serve } from "../src/server/serve.js";
import { RawWs } from "./fixtures/raw-ws.js";
import { ScriptedEnvironment, scriptedSpec, scriptedStats } from "./fixtures/scripted-env.js";
import { echoAction, rawChannel, waitFor } from "./helpers.js";

const servers: EnvironmentServer[] = [];
const cleanups: Array<() => unknown> = [];
async function start(options: ServeOptions = {}) {
  const s = await serve(ScriptedEnvironment, { port: 0, ...options });
  servers.push(s);
  return s;
}
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe("#1143: replies desync after a timeout", () => {
  it("a step that timed out on the server never answers a later call", async () => {
    const server = await start();
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
    await env.reset();
    const err = await env.step({ message: "sleep:400" }, { timeoutMs: 100 }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
    // OpenEnv's /ws would now hand the late "sleep:400" reply to the next call.
    for (const m of ["a", "b", "c"]) expect((await env.step({ message: m })).observation.echoedMessage).toBe(m);
    expect((await env.state()).stepCount).toBe(3); // the timed-out step was aborted, not applied
  });

  it("a call the client gave up on gets its own late reply, never the next call's", async () => {
    const server = await start();
    const { channel, transport } = rawChannel(server.url);
    cleanups.push(() => transport.close());
    await channel.request({ command: { case: "reset", value: {} } });
    // The client stops waiting for a slow step and moves on; the slow reply arrives first.
    const abandoned = channel.request({ command: { case: "action", value: echoAction("sleep:300") } });
    const gaveUp = await Promise.race([abandoned.then(() => "answered"), new Promise((r) => setTimeout(() => r("gave up"), 50))]);
    expect(gaveUp).toBe("gave up");
    const next = await channel.request({ command: { case: "action", value: echoAction("next") } });
    expect(next.case === "result" && next.value.stepCount).toBe(2);
    const late = await abandoned;
    expect(late.case === "result" && late.value.stepCount).toBe(1);
    await channel.close();
  });
});

describe("#1103: a connection dies and the client must recover", () => {
  it("a new stream resumes the session by id; a retried request id is answered from the record, not applied twice", async () => {
    const server = await start({ resumeGraceMs: 10_000 });
    const first = rawChannel(server.url, "grpc");
    await first.channel.request({ command: { case: "reset", value: {} } });
    const applied = scriptedStats.applied;
    const reply = first.channel.request({ command: { case: "action", value: echoAction("sleep:200") } }, undefined, "step-1");
    // The connection dies while the step runs (a network blip).
    await new Promise((r) => setTimeout(r, 50));
    const sessionId = first.channel.sessionId as string;
    first.transport.close();
    await reply.catch(() => {});
    const second = rawChannel(server.url, "grpc");
    cleanups.push(() => second.transport.close());
    const retried = await second.channel.request(
      { sessionId, command: { case: "action", value: echoAction("sleep:200") } },
      undefined,
      "step-1",
    );
    expect(retried.case === "result" && retried.value.stepCount).toBe(1);
    expect(scriptedStats.applied).toBe(applied + 1);
    const more = await second.channel.request({ command: { case: "action", value: echoAction("after") } });
    expect(more.case === "result" && more.value.stepCount).toBe(2);
    await second.channel.close();
    await waitFor(() => server.router.sessions.active === 0);
  });
});

/** A TCP proxy whose connections can be frozen: the peer stays connected but nothing passes, as behind a dead NAT or tunnel. */
async function freezableProxy(target: number) {
  const pairs: Array<[net.Socket, net.Socket]> = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect(target, "127.0.0.1");
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => {});
    upstream.on("error", () => {});
    pairs.push([client, upstream]);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
    proxy.close();
  });
  return {
    url: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    freeze() {
      // Nothing more is forwarded either way, and nobody sends a FIN: a half-open connection.
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
  };
}

describe("#1000: session slots leaked by vanished clients", () => {
  it("a half-open WebSocket (no FIN, no data) loses its slot to the idle timeout; the server does not stay full", async () => {
    const server = await start({ maxSessions: 1, idleTimeoutMs: 400 });
    const proxy = await freezableProxy(server.port);
    const ws = await RawWs.open(`${proxy.url.replace("http", "ws")}/ws`);
    cleanups.push(() => ws.ws.terminate());
    await ws.ask({ type: "reset" });
    proxy.freeze();
    const full = await fetch(`${server.url}/reset`, { method: "POST" });
    expect(full.status).toBe(503);
    await waitFor(() => server.router.sessions.active === 0, 10_000, "the frozen client's slot freed");
    const direct = await RawWs.open(`${server.url.replace("http", "ws")}/ws`);
    expect(JSON.parse(await direct.ask({ type: "reset" })).type).toBe("observation");
    direct.close();
  });

  it("a half-open Step stream loses its slot to the idle timeout", async () => {
    const server = await start({ maxSessions: 1, idleTimeoutMs: 400 });
    const proxy = await freezableProxy(server.port);
    const frozen = await EnvClient.connect({ baseUrl: proxy.url, spec: scriptedSpec, transport: "grpc" });
    cleanups.push(() => frozen.close().catch(() => {}));
    await frozen.reset();
    proxy.freeze();
    await waitFor(() => server.router.sessions.active === 0, 10_000, "the frozen client's slot freed");
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec, transport: "grpc" });
    expect((await env.reset()).observation.echoedMessage).toBe("ready");
  });

  it("clients that disconnect without closing free their slots on every transport (no reaper needed)", async () => {
    const server = await start({ maxSessions: 3, idleTimeoutMs: 0, resumeGraceMs: 100 });
    for (let round = 0; round < 5; round++) {
      const ws = await RawWs.open(`${server.url.replace("http", "ws")}/ws`);
      await ws.ask({ type: "reset" });
      const rpc = rawChannel(server.url, "grpc");
      await rpc.channel.request({ command: { case: "reset", value: {} } });
      const opened = await fetch(`${server.url}/reset`, { method: "POST", headers: { "openenv-session-id": "new" } });
      expect(opened.status).toBe(200);
      ws.ws.terminate();
      rpc.transport.close();
      await server.router.sessions.close(opened.headers.get("openenv-session-id") as string);
      await waitFor(() => server.router.sessions.active === 0, 10_000, `round ${round}: every slot free`);
    }
  });
});

describe("#1005: long steps exceed client timeouts", () => {
  it("a long step reports progress as it runs and completes under its own deadline", async () => {
    const server = await start();
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
    await env.reset();
    const progress: number[] = [];
    const r = await env.step({ message: "partials:40" }, { timeoutMs: 60_000, onPartial: (_p, at) => progress.push(at ?? -1) });
    expect(progress).toHaveLength(40);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(r.observation.echoedMessage).toBe("partials:40");
    const err = await env.step({ message: "sleep:2000" }, { timeoutMs: 150 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.DeadlineExceeded);
  });
});
