// Every configurable limit, on every transport it applies to: message size, sessions,
// step deadlines, idle sessions and connections, and slow or silent clients.
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import { StepChannel } from "../src/client/step-channel.js";
import { http2StepStream } from "../src/client/step-streams.js";
import { createTransport, type OwnedTransport } from "../src/client/transports.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, type ServeOptions, serve } from "../src/server/serve.js";
import { RawWs } from "./fixtures/raw-ws.js";
import { ScriptedEnvironment, scriptedStats } from "./fixtures/scripted-env.js";
import { echoAction, rawChannel, rpcClient, waitFor } from "./helpers.js";

const servers: EnvironmentServer[] = [];
const closers: Array<() => unknown> = [];
async function start(env: typeof ScriptedEnvironment | typeof EchoEnvironment, options: ServeOptions = {}) {
  const s = await serve(env, { port: 0, ...options });
  servers.push(s);
  return s;
}
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const wsUrl = (s: EnvironmentServer, path = "/ws") => `${s.url.replace("http://", "ws://")}${path}`;
const json = async (r: Response) => (await r.json()) as Record<string, unknown>;

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConnectError);
  return e as ConnectError;
}

const MAX = 64 * 1024;

describe("max message size", () => {
  describe.each([true, false])("Step stream and unary calls (server fastPath: %s)", (fastPath) => {
    it.each(["grpc", "connect", "grpc-web"] as const)(
      "%s: RESOURCE_EXHAUSTED naming the size and the limit; the session survives, the step is not applied",
      async (transport) => {
        const server = await start(EchoEnvironment, { maxMessageBytes: MAX, fastPath });
        for (const clientFast of [true, false]) {
          await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport, fastPath: clientFast });
          await env.reset();
          const err = await failure(env.step({ message: "x".repeat(MAX + 1) }));
          expect(err.code).toBe(Code.ResourceExhausted);
          expect(err.rawMessage).toMatch(/^message size \d+ is larger than configured readMaxBytes 65536$/);
          // The next step resumes the same session on a new stream; the oversized one was never applied.
          const next = await env.step({ message: "small" });
          expect(next.stepCount).toBe(1);
          expect(next.observation.echoedMessage).toBe("small");
        }
        const { client, transport: owned } = rpcClient(server.url, transport);
        closers.push(() => owned.close());
        const unary = await failure(client.reset({ options: { blob: "y".repeat(MAX) } }));
        expect(unary.code).toBe(Code.ResourceExhausted);
        expect(server.router.sessions.active).toBe(0);
      },
    );
  });

  it("OpenEnv HTTP: 413 with OpenEnv's JSON error shape on /reset, /step and /mcp, over HTTP/1.1 and HTTP/2", async () => {
    const server = await start(EchoEnvironment, { maxMessageBytes: MAX });
    const big = JSON.stringify({ action: { message: "x".repeat(MAX) } });
    const expected = { detail: "request body larger than 65536 bytes", code: "resource_exhausted" };
    for (const path of ["/reset", "/step", "/mcp"]) {
      const r = await fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: big });
      expect(r.status).toBe(413);
      expect(r.headers.get("connection")).toBe("close"); // the unread rest of the body cannot be followed by another request
      expect(await json(r)).toEqual(expected);
      const h2 = http2.connect(server.url);
      closers.push(() => h2.close());
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = h2.request({ ":method": "POST", ":path": path, "content-type": "application/json" });
        let status = 0;
        let body = "";
        stream.on("response", (h) => {
          status = Number(h[":status"]);
        });
        stream.on("data", (d: Buffer) => {
          body += d.toString();
        });
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
        stream.end(big);
      });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toEqual(expected);
    }
    // A stateful session is not affected by an oversized request to it.
    const opened = await fetch(`${server.url}/reset`, { method: "POST", headers: { "openenv-session-id": "new" } });
    const id = opened.headers.get("openenv-session-id") as string;
    const tooBig = await fetch(`${server.url}/step`, { method: "POST", headers: { "openenv-session-id": id }, body: big });
    expect(tooBig.status).toBe(413);
    const ok = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "openenv-session-id": id },
      body: '{"action":{"message":"a"}}',
    });
    expect(((await json(ok)).metadata as { step: number }).step).toBe(1);
    await server.router.sessions.close(id);
  });

  it("OpenEnv WebSocket: close 1009 on /ws and WS /mcp, and the session is released", async () => {
    const server = await start(EchoEnvironment, { maxMessageBytes: MAX });
    for (const path of ["/ws", "/mcp"]) {
      const ws = await RawWs.open(wsUrl(server, path));
      expect(server.router.sessions.active).toBe(1);
      ws.send({ type: "step", data: { message: "x".repeat(MAX) } });
      expect((await ws.closed).code).toBe(1009);
      await waitFor(() => server.router.sessions.active === 0, 10_000, "session released");
    }
  });
});

describe("max sessions", () => {
  it("is one limit shared by every transport, each reporting it its own way", async () => {
    const server = await start(EchoEnvironment, { maxSessions: 2 });
    await using rpc = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport: "grpc" });
    await rpc.reset();
    const ws = await RawWs.open(wsUrl(server));
    expect(server.router.sessions.active).toBe(2);

    const http = await fetch(`${server.url}/reset`, { method: "POST" });
    expect(http.status).toBe(503);
    expect(await json(http)).toEqual({
      detail: "Server at capacity: 2/2 sessions active. Cannot accept new connections.",
      code: "resource_exhausted",
      active_sessions: 2,
      max_sessions: 2,
    });
    const refused = await RawWs.open(wsUrl(server));
    expect(JSON.parse(await refused.next())).toEqual({
      type: "error",
      data: {
        message: "Server at capacity: 2/2 sessions active. Cannot accept new connections.",
        code: "CAPACITY_REACHED",
        active_sessions: 2,
        max_sessions: 2,
      },
    });
    expect((await refused.closed).code).toBe(1000);
    const mcp = await json(
      await fetch(`${server.url}/mcp`, { method: "POST", body: '{"jsonrpc":"2.0","method":"openenv/session/create","id":1}' }),
    );
    expect(mcp.error).toMatchObject({ code: -32000, data: { active_sessions: 2, max_sessions: 2 } });
    for (const transport of ["connect", "connect-json", "grpc-web"] as const) {
      await using full = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport });
      const err = await failure(full.reset());
      expect(err.code).toBe(Code.ResourceExhausted);
    }
    // A freed slot (the WebSocket closed) is usable by any transport.
    ws.close();
    await waitFor(() => server.router.sessions.active === 1);
    expect((await fetch(`${server.url}/reset`, { method: "POST" })).status).toBe(200);
  });
});

describe("per-step deadline", () => {
  it("RPC: a client deadline above the server's maximum is capped to it; the environment's abort signal fires", async () => {
    const server = await start(ScriptedEnvironment, { stepTimeoutMs: 300 });
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
    await env.reset();
    const aborted = scriptedStats.aborted;
    const err = await failure(env.step({ message: "sleep:20000" }, { timeoutMs: 60_000 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.rawMessage).toBe("step exceeded its deadline of 300 ms");
    await waitFor(() => scriptedStats.aborted === aborted + 1, 10_000, "environment aborted");
    expect((await env.step({ message: "after" })).observation.echoedMessage).toBe("after");
  });

  it("WebSocket: EXECUTION_ERROR with status deadline_exceeded; the environment is aborted and the socket stays usable", async () => {
    const server = await start(ScriptedEnvironment, { stepTimeoutMs: 300 });
    const ws = await RawWs.open(`${wsUrl(server)}?extensions=1`);
    await ws.ask({ type: "reset" });
    const aborted = scriptedStats.aborted;
    expect(await ws.askJson({ type: "step", data: { message: "sleep:20000" } })).toEqual({
      type: "error",
      data: { message: "step exceeded its deadline of 300 ms", code: "EXECUTION_ERROR", status: "deadline_exceeded" },
    });
    await waitFor(() => scriptedStats.aborted === aborted + 1, 10_000, "environment aborted");
    const next = (await ws.askJson({ type: "step", data: { message: "after" } })) as { data: { observation: { echoed_message: string } } };
    expect(next.data.observation.echoed_message).toBe("after");
    ws.close();
  });

  it("HTTP: 504 with OpenEnv's JSON error shape, from timeout_s or the server's maximum, stateless and stateful", async () => {
    const server = await start(ScriptedEnvironment, { stepTimeoutMs: 400 });
    const aborted = scriptedStats.aborted;
    const stateless = await fetch(`${server.url}/step`, {
      method: "POST",
      body: JSON.stringify({ action: { message: "sleep:20000" }, timeout_s: 0.2 }),
    });
    expect(stateless.status).toBe(504);
    expect(await json(stateless)).toEqual({ detail: "step exceeded its deadline of 200 ms", code: "deadline_exceeded" });
    const opened = await fetch(`${server.url}/reset`, { method: "POST", headers: { "openenv-session-id": "new" } });
    const id = opened.headers.get("openenv-session-id") as string;
    const stateful = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "openenv-session-id": id },
      body: JSON.stringify({ action: { message: "sleep:20000" }, timeout_s: 60 }),
    });
    expect(stateful.status).toBe(504);
    expect(await json(stateful)).toEqual({ detail: "step exceeded its deadline of 400 ms", code: "deadline_exceeded" });
    await waitFor(() => scriptedStats.aborted === aborted + 2, 10_000, "both environments aborted");
    await server.router.sessions.close(id);
    await waitFor(() => server.router.sessions.active === 0);
  });

  it("an environment that ignores its abort signal loses only its own session, on every transport", async () => {
    const server = await start(ScriptedEnvironment, { stepTimeoutMs: 200, abortGraceMs: 200 });
    await using other = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
    await other.reset();
    // WebSocket: the session is closed after the grace, and its socket with it (1001, the reason).
    const ws = await RawWs.open(wsUrl(server));
    await ws.ask({ type: "reset" });
    expect(JSON.parse(await ws.ask({ type: "step", data: { message: "hang" } })).data.message).toBe("step exceeded its deadline of 200 ms");
    const closed = await ws.closed;
    expect(closed.code).toBe(1001);
    expect(closed.reason).toMatch(/did not stop within 200 ms/);
    // Step stream: the stream ends with ABORTED.
    const { channel, transport } = rawChannel(server.url);
    closers.push(() => transport.close());
    await channel.request({ command: { case: "reset", value: {} } });
    const err = await failure(channel.request({ command: { case: "action", value: echoAction("hang") } }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    await waitFor(() => channel.broken !== undefined, 10_000, "stream ended");
    expect(channel.broken?.code).toBe(Code.Aborted);
    expect((await other.step({ message: "unaffected" })).observation.echoedMessage).toBe("unaffected");
    expect(server.router.sessions.active).toBe(1);
  });
});

describe("idle session timeout closes the stream or socket on every transport", () => {
  it.each([
    ["grpc", true],
    ["connect", true],
    ["grpc-web", true],
    ["connect", false],
  ] as const)("Step stream over %s (server fastPath: %s) ends with ABORTED", async (kind, fastPath) => {
    const server = await start(EchoEnvironment, { idleTimeoutMs: 300, fastPath });
    const owned: OwnedTransport = createTransport({ kind, baseUrl: server.url });
    closers.push(() => owned.close());
    const raw = rawChannel(server.url, kind);
    closers.push(() => raw.transport.close());
    const channel = fastPath ? new StepChannel(http2StepStream(owned.direct as NonNullable<OwnedTransport["direct"]>)) : raw.channel;
    await channel.request({ command: { case: "reset", value: {} } });
    // The client sends nothing more: the server ends the stream by itself.
    await waitFor(() => channel.broken !== undefined, 10_000, "stream ended by the server");
    expect(channel.broken?.code).toBe(Code.Aborted);
    expect(channel.broken?.rawMessage).toBe("session idle for more than 300 ms");
    expect(server.router.sessions.active).toBe(0);
  });

  it("OpenEnv WebSocket: close 1001 with the reason", async () => {
    const server = await start(EchoEnvironment, { idleTimeoutMs: 300 });
    const ws = await RawWs.open(wsUrl(server));
    await ws.ask({ type: "reset" });
    expect(await ws.closed).toEqual({ code: 1001, reason: "session idle for more than 300 ms" });
    expect(server.router.sessions.active).toBe(0);
  });

  it("stateful HTTP: the session is gone (404), and the idle keep-alive connection is closed", async () => {
    const server = await start(EchoEnvironment, { idleTimeoutMs: 300, keepAliveTimeoutMs: 300 });
    const opened = await fetch(`${server.url}/reset`, { method: "POST", headers: { "openenv-session-id": "new" } });
    const id = opened.headers.get("openenv-session-id") as string;
    await waitFor(() => server.router.sessions.active === 0, 10_000, "session reaped");
    const gone = await fetch(`${server.url}/state`, { headers: { "openenv-session-id": id } });
    expect(gone.status).toBe(404);
    expect((await json(gone)).code).toBe("not_found");
    const socket = await rawSocket(server.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => socket.text().includes('{"status":"healthy"}'), 10_000, "health answer");
    await waitFor(() => socket.closed, 10_000, "keep-alive connection closed");
  });
});

/** A raw TCP client: what it received, and whether the server closed it. */
async function rawSocket(port: number, first = "") {
  const socket = net.connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  const state = { closed: false, openedAt: 0, closedAt: 0 };
  socket.on("data", (d: Buffer) => chunks.push(d));
  socket.on("close", () => {
    state.closed = true;
    state.closedAt = Date.now();
  });
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  state.openedAt = Date.now();
  if (first !== "") socket.write(first);
  closers.push(() => socket.destroy());
  return {
    socket,
    get closed() {
      return state.closed;
    },
    /** How long the connection stayed open. */
    lifetime: () => state.closedAt - state.openedAt,
    text: () => Buffer.concat(chunks).toString("latin1"),
  };
}

describe("slow and silent clients on the one-port listener", () => {
  const limits = { firstByteTimeoutMs: 400, headersTimeoutMs: 600, keepAliveTimeoutMs: 800 };

  it("a client that sends nothing is disconnected after firstByteTimeoutMs", async () => {
    const server = await start(EchoEnvironment, limits);
    const silent = await rawSocket(server.port);
    const few = await rawSocket(server.port, "GE"); // fewer bytes than the protocol sniffing needs
    await waitFor(() => silent.closed && few.closed, 10_000, "silent connections closed");
    expect(silent.lifetime()).toBeGreaterThanOrEqual(350);
    expect(silent.text()).toBe("");
    await waitFor(() => server.listener.connections() === 0);
  });

  it("slowloris: half a request line, or headers trickled byte by byte, get 408 (JSON) after headersTimeoutMs", async () => {
    const server = await start(EchoEnvironment, limits);
    const half = await rawSocket(server.port, "GET /hea");
    const trickle = await rawSocket(server.port, "GET /health HTTP/1.1\r\n");
    const bytes = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (let i = 0; i < bytes.length && !trickle.closed; i++) {
      trickle.socket.write(bytes[i] as string);
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => half.closed && trickle.closed, 10_000, "slow clients closed");
    for (const c of [half, trickle]) {
      expect(c.lifetime()).toBeGreaterThanOrEqual(550);
      const [head, body] = c.text().split("\r\n\r\n");
      expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(JSON.parse(body as string)).toEqual({ detail: "Request Timeout: the request headers did not arrive in time" });
    }
  });

  it("HTTP/2: a preface with no SETTINGS is cut after headersTimeoutMs; a connection with no stream gets GOAWAY", async () => {
    const server = await start(EchoEnvironment, limits);
    const preface = await rawSocket(server.port, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    await waitFor(() => preface.closed, 10_000, "preface-only connection closed");
    expect(preface.lifetime()).toBeGreaterThanOrEqual(550);
    // A real client that opens the connection and never makes a call.
    const idle = http2.connect(server.url);
    idle.on("error", () => {});
    closers.push(() => idle.destroy());
    let goaway = false;
    idle.on("goaway", () => {
      goaway = true;
    });
    await waitFor(() => goaway && idle.closed, 10_000, "GOAWAY on the idle connection");
    // A connection with an open stream is not idle, however long the stream waits.
    const busy = http2.connect(server.url);
    busy.on("error", () => {});
    closers.push(() => busy.destroy());
    const stream = busy.request({ ":method": "POST", ":path": "/openenv.v1.EnvironmentService/Step", "content-type": "application/grpc" });
    stream.on("error", () => {});
    await new Promise((r) => setTimeout(r, 2 * limits.keepAliveTimeoutMs));
    expect(busy.closed).toBe(false);
    stream.close();
    await waitFor(() => busy.closed, 10_000, "GOAWAY once the stream ended");
  });

  it("keeps serving well-behaved clients while slow ones hold connections", async () => {
    const server = await start(EchoEnvironment, limits);
    const slow = await Promise.all(
      Array.from({ length: 20 }, (_, i) => rawSocket(server.port, i % 2 === 0 ? "" : "POST /step HTTP/1.1\r\n")),
    );
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
    await env.reset();
    for (let i = 1; i <= 20; i++) expect((await env.step({ message: `m${i}` })).stepCount).toBe(i);
    await waitFor(() => slow.every((s) => s.closed), 10_000, "slow clients closed");
  });
});

describe("limits in Describe", () => {
  it("reports what the server enforces", async () => {
    const server = await start(EchoEnvironment, {
      maxSessions: 7,
      idleTimeoutMs: 12_000,
      stepTimeoutMs: 3_000,
      maxMessageBytes: 1 << 20,
      resumeGraceMs: 4_000,
    });
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec });
    const limits = env.info?.limits;
    expect(limits?.maxSessions).toBe(7);
    expect(limits?.maxMessageBytes).toBe(1n << 20n);
    expect(Number(limits?.idleTimeout?.seconds)).toBe(12);
    expect(Number(limits?.stepTimeout?.seconds)).toBe(3);
    expect(Number(limits?.resumeGrace?.seconds)).toBe(4);
  });
});
