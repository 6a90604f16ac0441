// `openenv serve --workers 2` and serveCluster with real processes: sessions
// spread over the workers, every session-addressed call works whichever worker
// a connection lands on, the limit is server-wide, a killed worker is replaced,
// SIGTERM drains, and no process is left behind.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as http from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoActionSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { CapacityInfoSchema, EnvironmentService } from "../gen/openenv/v1/environment_service_pb.js";
import { run } from "../src/cli/main.js";
import { EnvClient } from "../src/client/env-client.js";
import { StepChannel } from "../src/client/step-channel.js";
import { connectStepStream } from "../src/client/step-streams.js";
import type { RpcTransportKind } from "../src/client/transports.js";
import { createTransport } from "../src/client/transports.js";
import { echoSpec } from "../src/envs/echo/environment.js";
import { jsonRegistry } from "../src/protocol/descriptors.js";
import { waitFor } from "./auto/helpers.js";

const repoRoot = join(import.meta.dirname, "..");
const bin = join(repoRoot, "bin", "openenv.js");

interface Event {
  readonly event: string;
  readonly [key: string]: unknown;
}

interface WorkerRow {
  readonly id: number;
  readonly pid: number;
}

/** A cluster in its own process tree, with the JSON events it printed. */
interface Cluster {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly events: Event[];
  readonly workers: WorkerRow[];
  /** Every worker pid seen (including replaced ones). */
  readonly pids: Set<number>;
  stderr(): string;
  /** Signals the primary (unless it is exiting already) and waits for it to exit; resolves to its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves to the exit code once the primary exited. */
  readonly exited: Promise<number | null>;
}

const started: Cluster[] = [];

async function startCluster(command: string[]): Promise<Cluster> {
  const child = spawn(process.execPath, command, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const events: Event[] = [];
  const pids = new Set<number>();
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const listening = await new Promise<Event>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the cluster did not start: ${stderr}`)), 90_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let event: Event;
      try {
        event = JSON.parse(line) as Event;
      } catch {
        return;
      }
      events.push(event);
      if (typeof event.pid === "number" && event.event.startsWith("worker-")) pids.add(event.pid);
      if (event.event === "listening") {
        clearTimeout(timer);
        resolve(event);
      }
    });
    void exited.then((code) => reject(new Error(`the cluster exited with ${code}: ${stderr}`)));
  });
  const cluster: Cluster = {
    url: listening.url as string,
    pid: child.pid as number,
    child,
    events,
    workers: listening.workers as WorkerRow[],
    pids,
    stderr: () => stderr,
    exited,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  for (const w of cluster.workers) pids.add(w.pid);
  started.push(cluster);
  return cluster;
}

function cliCluster(args: string[]): Promise<Cluster> {
  return startCluster([bin, "serve", ...args, "--port", "0", "--json"]);
}

afterAll(async () => {
  for (const c of started) {
    if (c.child.exitCode === null && c.child.signalCode === null) {
      c.child.kill("SIGKILL");
      for (const pid of c.pids) kill(pid, "SIGKILL");
    }
  }
});

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** pid → parent pid of every live (non-zombie) process. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] === "Z" || fields[0] === "X") continue;
      out.set(Number(entry), Number(fields[1]));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

/** Stops a cluster and checks that none of its processes is left. */
async function stopAndCheck(c: Cluster, signal: NodeJS.Signals | "already signalled" = "SIGTERM"): Promise<number | null> {
  const code = signal === "already signalled" ? await c.exited : await c.stop(signal);
  await waitFor(
    () => {
      const table = parents();
      return [...c.pids].every((pid) => !table.has(pid)) && ![...table.values()].includes(c.pid);
    },
    20_000,
    "every worker process to be gone",
  );
  return code;
}

/** The worker a session id names. */
function owner(sessionId: string): number {
  const m = /^w(\d+)-[0-9a-f-]{36}$/.exec(sessionId);
  if (m === null) throw new Error(`not a cluster session id: ${sessionId}`);
  return Number(m[1]);
}

const registry = jsonRegistry([echoSpec.action, echoSpec.observation, echoSpec.state]);

/** The generated client on its own HTTP/2 connection. */
function rpcClient(url: string, kind: RpcTransportKind, token?: string) {
  const interceptors: Interceptor[] =
    token === undefined
      ? []
      : [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${token}`);
            return next(req);
          },
        ];
  const transport = createTransport({ kind, baseUrl: url, registry, interceptors });
  return { client: createClient(EnvironmentService, transport.transport), transport };
}

const echo = (message: string) => anyPack(EchoActionSchema, create(EchoActionSchema, { message }));

/** A client on its own HTTP/2 connection. */
type Conn = ReturnType<typeof rpcClient> & { worker: number };

/** Opens connections until one lands on a worker accepted by `want`; learns the worker from a probe session. */
async function connectTo(
  url: string,
  want: (worker: number) => boolean,
  kind: RpcTransportKind = "connect",
  token?: string,
): Promise<Conn> {
  for (let i = 0; i < 40; i++) {
    const conn = rpcClient(url, kind, token);
    const probe = await conn.client.reset({});
    await conn.client.closeSession({ sessionId: probe.sessionId });
    const worker = owner(probe.sessionId);
    if (want(worker)) return { ...conn, worker };
    conn.transport.close();
  }
  throw new Error("no connection landed on the wanted worker");
}

async function rejects(p: Promise<unknown>): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

/** One HTTP/1.1 keep-alive connection. */
function h1Connection(url: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (method: string, path: string, headers: Record<string, string> = {}, body?: unknown) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; json: Record<string, unknown> }>((resolve, reject) => {
      const text = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        `${url}${path}`,
        { method, agent, headers: { ...headers, ...(text !== undefined ? { "content-type": "application/json" } : {}) } },
        (res) => {
          let data = "";
          res.setEncoding("utf8").on("data", (d: string) => (data += d));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(data) as Record<string, unknown> }),
          );
        },
      );
      req.on("error", reject);
      req.end(text);
    });
  return { call, close: () => agent.destroy() };
}

/** Opens HTTP/1.1 connections until one lands on a worker accepted by `want` (the probe session it opens is returned). */
async function h1ConnectTo(url: string, want: (worker: number) => boolean, headers: Record<string, string> = {}) {
  for (let i = 0; i < 40; i++) {
    const conn = h1Connection(url);
    const r = await conn.call("POST", "/reset", { "openenv-session-id": "new", ...headers }, {});
    const id = r.headers["openenv-session-id"] as string;
    if (want(owner(id))) return { ...conn, worker: owner(id), probe: id };
    conn.close();
  }
  throw new Error("no HTTP/1.1 connection landed on the wanted worker");
}

describe("openenv serve echo --workers 2", () => {
  let c: Cluster;
  const conns: Array<{ transport: { close(): void } }> = [];
  afterAll(async () => {
    for (const conn of conns) conn.transport.close();
    if (c !== undefined) expect(await stopAndCheck(c)).toBe(0);
  });

  beforeAll(async () => {
    c = await cliCluster(["echo", "--workers", "2"]);
  }, 120_000);

  it("starts two worker processes under the primary, and sessions land on both", async () => {
    expect(c.workers).toHaveLength(2);
    const table = parents();
    for (const w of c.workers) expect(table.get(w.pid)).toBe(c.pid);
    const owners = new Set<number>();
    for (let i = 0; i < 8; i++) {
      const conn = rpcClient(c.url, "connect");
      conns.push(conn);
      const r = await conn.client.reset({});
      owners.add(owner(r.sessionId));
    }
    expect([...owners].sort()).toEqual(c.workers.map((w) => w.id).sort());
  });

  it.each(["connect", "connect-json", "grpc", "grpc-web"] as const)(
    "unary Reset, State and CloseSession reach another worker's session (%s)",
    async (kind) => {
      const a = await connectTo(c.url, () => true, kind);
      const b = await connectTo(c.url, (w) => w !== a.worker, kind);
      conns.push(a, b);
      const opened = await a.client.reset({ episodeId: "ep-a" });
      const id = opened.sessionId;
      expect(owner(id)).toBe(a.worker);
      const state = await b.client.state({ sessionId: id });
      expect(state.sessionId).toBe(id);
      expect(state.episodeId).toBe("ep-a");
      const again = await b.client.reset({ sessionId: id, episodeId: "ep-b" });
      expect(again.sessionId).toBe(id);
      expect(again.result?.episodeId).toBe("ep-b");
      expect((await a.client.state({ sessionId: id })).episodeId).toBe("ep-b");
      expect(await b.client.closeSession({ sessionId: id })).toMatchObject({ closed: true });
      expect(await b.client.closeSession({ sessionId: id })).toMatchObject({ closed: false });
      const gone = await rejects(b.client.state({ sessionId: id }));
      expect(gone.code).toBe(Code.NotFound);
      // Errors of the owner arrive as the owner sent them.
      const bad = await rejects(b.client.reset({ sessionId: `w${a.worker}-00000000-0000-0000-0000-000000000000` }));
      expect(bad.code).toBe(Code.NotFound);
      expect(bad.rawMessage).toContain("not found");
    },
  );

  it.each(["connect", "connect-json", "grpc"] as const)(
    "a Step stream attaches by session_id through another worker, resumes after a drop, and a half-close ends the session (%s)",
    async (kind) => {
      const a = await connectTo(c.url, () => true, kind);
      const b = await connectTo(c.url, (w) => w !== a.worker, kind);
      conns.push(a, b);
      const id = (await a.client.reset({})).sessionId;
      const channel = new StepChannel(connectStepStream(b.client));
      const r1 = await channel.request({ sessionId: id, command: { case: "action", value: echo("hi") } });
      expect(r1.case).toBe("result");
      expect(r1.case === "result" && r1.value.stepCount).toBe(1);
      const r2 = await channel.request({ command: { case: "action", value: echo("there") } });
      expect(r2.case === "result" && r2.value.stepCount).toBe(2);
      const st = await channel.request({ command: { case: "state", value: {} } });
      expect(st.case === "state" && st.value.sessionId).toBe(id);
      expect(channel.sessionId).toBe(id);
      // A drop keeps the session for a resume, from either worker.
      await channel.cancel();
      const resumed = new StepChannel(connectStepStream(b.client));
      const r3 = await resumed.request({ sessionId: id, command: { case: "action", value: echo("again") } });
      expect(r3.case === "result" && r3.value.stepCount).toBe(3);
      // A half-close of the relayed stream ends the session at its owner.
      await resumed.close();
      await waitFor(async () => {
        try {
          await a.client.state({ sessionId: id });
          return false;
        } catch (err) {
          return ConnectError.from(err).code === Code.NotFound;
        }
      });
    },
  );

  it("a relayed Step stream keeps its session when it asks to (openenv-keep-session is forwarded)", async () => {
    const a = await connectTo(c.url, () => true, "grpc");
    const b = await connectTo(c.url, (w) => w !== a.worker, "grpc");
    conns.push(a, b);
    const id = (await a.client.reset({})).sessionId;
    const channel = new StepChannel(connectStepStream(b.client, { "openenv-keep-session": "true" }));
    await channel.request({ sessionId: id, command: { case: "action", value: echo("kept") } });
    await channel.close();
    expect((await a.client.state({ sessionId: id })).stepCount).toBe(1);
    await a.client.closeSession({ sessionId: id });
  });

  it("OpenEnv's stateful HTTP (OpenEnv-Session-Id) and MCP session methods work on a connection to another worker", async () => {
    const x = await h1ConnectTo(c.url, () => true);
    const y = await h1ConnectTo(c.url, (w) => w !== x.worker);
    try {
      const id = x.probe;
      const step = await y.call("POST", "/step", { "openenv-session-id": id }, { action: { message: "hello" } });
      expect(step.status).toBe(200);
      expect(step.headers["openenv-session-id"]).toBe(id);
      expect((step.json.observation as { echoed_message: string }).echoed_message).toBe("hello");
      const state = await y.call("GET", "/state", { "openenv-session-id": id });
      expect(state.status).toBe(200);
      expect(state.json.step_count).toBe(1);
      const reset = await y.call("POST", "/reset", { "openenv-session-id": id }, { episode_id: "ep-h" });
      expect(reset.status).toBe(200);
      expect((await x.call("GET", "/state", { "openenv-session-id": id })).json.episode_id).toBe("ep-h");
      const unknown = await y.call("GET", "/state", { "openenv-session-id": `w${x.worker}-00000000-0000-0000-0000-000000000000` });
      expect(unknown.status).toBe(404);
      // OpenEnv's MCP session methods over HTTP name sessions in the body.
      const mcp = (conn: typeof x, method: string, params: Record<string, unknown> = {}) =>
        conn.call("POST", "/mcp", {}, { jsonrpc: "2.0", id: 7, method, params });
      const created = (await mcp(x, "openenv/session/create")).json.result as { session_id: string };
      expect(owner(created.session_id)).toBe(x.worker);
      const closed = await mcp(y, "openenv/session/close", { session_id: created.session_id });
      expect(closed.json).toEqual({ jsonrpc: "2.0", id: 7, result: { session_id: created.session_id, closed: true } });
      const again = await mcp(y, "openenv/session/close", { session_id: created.session_id });
      expect(again.json.error).toMatchObject({ code: -32602, message: `Unknown session_id: ${created.session_id}` });
      const rpc = rpcClient(c.url, "connect");
      conns.push(rpc);
      await rpc.client.closeSession({ sessionId: id });
      await rpc.client.closeSession({ sessionId: y.probe });
    } finally {
      x.close();
      y.close();
    }
  });

  it("OpenEnv's /ws and EnvClient over every transport work on a cluster (several connections, both workers)", async () => {
    const clients: Array<{ close(): Promise<void> }> = [];
    try {
      for (const transport of ["websocket", "websocket", "grpc", "grpc", "connect", "connect", "http", "http"] as const) {
        const env = await EnvClient.connect({ baseUrl: c.url, spec: echoSpec, transport });
        clients.push(env);
        await env.reset();
        const r = await env.step({ message: `via ${transport}` });
        expect(r.observation.echoedMessage).toBe(`via ${transport}`);
        expect(r.stepCount).toBe(1);
      }
    } finally {
      await Promise.all(clients.map((env) => env.close()));
    }
  });

  it("Describe and health answer on every worker, counting the sessions of all workers", async () => {
    const a = await connectTo(c.url, () => true);
    const b = await connectTo(c.url, (w) => w !== a.worker);
    conns.push(a, b);
    const before = (await a.client.describe({})).limits?.activeSessions ?? -1;
    const sa = await a.client.reset({});
    const sb = await b.client.reset({});
    for (const conn of [a, b]) {
      const d = await conn.client.describe({});
      expect(d.limits?.maxSessions).toBe(64);
      expect(d.limits?.activeSessions).toBe(before + 2);
    }
    await a.client.closeSession({ sessionId: sa.sessionId });
    await a.client.closeSession({ sessionId: sb.sessionId });
    expect((await b.client.describe({})).limits?.activeSessions).toBe(before);
    for (const conn of [h1Connection(c.url), h1Connection(c.url)]) {
      const health = await conn.call("GET", "/health");
      expect(health.json).toEqual({ status: "healthy" });
      conn.close();
    }
  });
});

describe("the session limit is server-wide", () => {
  it("lets one worker use more than half of --max-sessions and refuses past the total on any worker", async () => {
    const c = await cliCluster(["echo", "--workers", "2", "--max-sessions", "3"]);
    const a = await connectTo(c.url, () => true);
    const b = await connectTo(c.url, (w) => w !== a.worker);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await a.client.reset({})).sessionId);
      expect(ids.map(owner)).toEqual([a.worker, a.worker, a.worker]);
      const full = await rejects(b.client.reset({}));
      expect(full.code).toBe(Code.ResourceExhausted);
      expect(full.findDetails(CapacityInfoSchema)[0]).toMatchObject({ activeSessions: 3, maxSessions: 3 });
      const fullA = await rejects(a.client.reset({}));
      expect(fullA.code).toBe(Code.ResourceExhausted);
      const http1 = h1Connection(c.url);
      const refused = await http1.call("POST", "/reset", { "openenv-session-id": "new" }, {});
      expect(refused.status).toBe(503);
      http1.close();
      expect((await b.client.describe({})).limits).toMatchObject({ activeSessions: 3, maxSessions: 3 });
      // A slot freed on one worker serves the other.
      await b.client.closeSession({ sessionId: ids[0] as string });
      const moved = await b.client.reset({});
      expect(owner(moved.sessionId)).toBe(b.worker);
      expect((await rejects(a.client.reset({}))).code).toBe(Code.ResourceExhausted);
    } finally {
      a.transport.close();
      b.transport.close();
      expect(await stopAndCheck(c)).toBe(0);
    }
  }, 120_000);
});

describe("a worker that dies", () => {
  it("is replaced; only its sessions are lost, and calls for them say so", async () => {
    const c = await cliCluster(["echo", "--workers", "2", "--max-sessions", "2"]);
    const a = await connectTo(c.url, () => true);
    const b = await connectTo(c.url, (w) => w !== a.worker);
    try {
      const lost = (await a.client.reset({})).sessionId;
      const kept = (await b.client.reset({})).sessionId;
      const victim = c.workers.find((w) => w.id === a.worker) as WorkerRow;
      process.kill(victim.pid, "SIGKILL");
      await waitFor(() => c.events.some((e) => e.event === "worker-ready" && e.replaces === victim.id), 60_000, "a replacement worker");
      expect(c.events).toContainEqual(
        expect.objectContaining({ event: "worker-exit", worker: victim.id, signal: "SIGKILL", expected: false, replaced: true }),
      );
      const replacement = c.events.find((e) => e.event === "worker-ready" && e.replaces === victim.id) as Event;
      expect(parents().get(replacement.pid as number)).toBe(c.pid);
      expect(parents().has(victim.pid)).toBe(false);
      expect(c.stderr()).not.toContain("Error:");
      // The survivor's session is intact; the lost one is reported as lost, from any worker.
      expect((await b.client.state({ sessionId: kept })).sessionId).toBe(kept);
      const err = await rejects(b.client.state({ sessionId: lost }));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toContain(`session '${lost}' was lost: worker ${victim.id} (pid ${victim.pid})`);
      expect(err.rawMessage).toContain("SIGKILL");
      // In-band on a Step stream, which stays usable: its reset opens a session on its own worker,
      // in the slot the dead worker freed (the limit is 2: the kept session and this one).
      const channel = new StepChannel(connectStepStream(b.client));
      const inBand = await rejects(channel.request({ sessionId: lost, command: { case: "action", value: echo("x") } }));
      expect(inBand.code).toBe(Code.NotFound);
      expect(inBand.rawMessage).toContain("was lost");
      await channel.request({ command: { case: "reset", value: {} } });
      expect(owner(channel.sessionId as string)).toBe(b.worker);
      expect((await rejects(b.client.reset({}))).code).toBe(Code.ResourceExhausted);
      await channel.close();
      const http1 = h1Connection(c.url);
      const viaHttp = await http1.call("GET", "/state", { "openenv-session-id": lost });
      http1.close();
      expect(viaHttp.status).toBe(404);
      expect(String(viaHttp.json.detail)).toContain("was lost");
      // New connections reach the replacement.
      const fresh = await connectTo(c.url, (w) => w === replacement.worker);
      fresh.transport.close();
    } finally {
      a.transport.close();
      b.transport.close();
      expect(await stopAndCheck(c)).toBe(0);
    }
  }, 120_000);
});

describe("SIGTERM to the primary (serveCluster API)", () => {
  it("drains every worker: running steps, relayed ones included, deliver their results; then all processes exit", async () => {
    const c = await startCluster(["--import", "tsx", join(repoRoot, "test", "fixtures", "cluster-server.ts"), "16"]);
    const a = await connectTo(c.url, () => true, "grpc");
    const b = await connectTo(c.url, (w) => w !== a.worker, "grpc");
    try {
      const local = new StepChannel(connectStepStream(a.client));
      await local.request({ command: { case: "reset", value: {} } });
      const other = new StepChannel(connectStepStream(b.client));
      await other.request({ command: { case: "reset", value: {} } });
      // A stream on b's connection relayed to a session of a.
      const owned = (await a.client.reset({})).sessionId;
      const relayed = new StepChannel(connectStepStream(b.client));
      const channels = [local, other, relayed];
      const running = new Set<number>();
      const steps = channels.map((ch, i) =>
        ch.request({ ...(ch === relayed ? { sessionId: owned } : {}), command: { case: "action", value: echo("wait:1500") } }, () =>
          running.add(i),
        ),
      );
      await waitFor(() => running.size === 3, 20_000, "three steps in flight");
      c.child.kill("SIGTERM");
      const results = await Promise.all(
        steps.map((p, i) =>
          p.catch((e: unknown) => {
            throw new Error(`step ${i}: ${String(e)}`);
          }),
        ),
      );
      for (const r of results) expect(r.case === "result" && r.value.observation !== undefined).toBe(true);
      const after = await rejects(local.request({ command: { case: "action", value: echo("late") } }));
      expect([Code.Unavailable, Code.Canceled]).toContain(after.code);
      expect(await stopAndCheck(c, "already signalled")).toBe(0);
      expect(c.events.filter((e) => e.event === "worker-exit").every((e) => e.expected === true)).toBe(true);
      expect(c.events.at(-1)?.event).toBe("closed");
      // Each worker says who it is in its own log lines.
      for (const w of c.workers) expect(c.stderr()).toContain(`openenv[worker ${w.id}, pid ${w.pid}]: shutting down`);
    } finally {
      a.transport.close();
      b.transport.close();
    }
  }, 120_000);
});

describe("with --token", () => {
  it("calls forwarded to the owner carry the caller's credentials (the owner checks them again); no credentials, no call", async () => {
    const c = await cliCluster(["echo", "--workers", "2", "--token", "s3cret"]);
    const a = await connectTo(c.url, () => true, "grpc", "s3cret");
    const b = await connectTo(c.url, (w) => w !== a.worker, "grpc", "s3cret");
    try {
      const id = (await a.client.reset({})).sessionId;
      expect((await b.client.state({ sessionId: id })).sessionId).toBe(id);
      const channel = new StepChannel(connectStepStream(b.client, { authorization: "Bearer s3cret" }));
      const r = await channel.request({ sessionId: id, command: { case: "action", value: echo("authorized") } });
      expect(r.case === "result" && r.value.stepCount).toBe(1);
      await channel.cancel();
      const anonymous = rpcClient(c.url, "grpc");
      expect((await rejects(anonymous.client.state({ sessionId: id }))).code).toBe(Code.Unauthenticated);
      anonymous.transport.close();
      const x = await h1ConnectTo(c.url, () => true, { authorization: "Bearer s3cret" });
      const y = await h1ConnectTo(c.url, (w) => w !== x.worker, { authorization: "Bearer s3cret" });
      const step = await y.call(
        "POST",
        "/step",
        { "openenv-session-id": x.probe, authorization: "Bearer s3cret" },
        { action: { message: "h" } },
      );
      expect(step.status).toBe(200);
      const refused = await y.call("POST", "/step", { "openenv-session-id": x.probe }, { action: { message: "h" } });
      expect(refused.status).toBe(401);
      x.close();
      y.close();
    } finally {
      a.transport.close();
      b.transport.close();
      expect(await stopAndCheck(c)).toBe(0);
    }
  }, 120_000);
});

describe("a primary that is killed outright", () => {
  it("takes its workers with it (no orphans)", async () => {
    const c = await cliCluster(["echo", "--workers", "2"]);
    const conn = await connectTo(c.url, () => true);
    await conn.client.reset({});
    conn.transport.close();
    expect(await stopAndCheck(c, "SIGKILL")).toBe(null);
  }, 120_000);
});

describe("openenv serve --workers usage", () => {
  it("rejects a worker count below 1", async () => {
    let err = "";
    const code = await run(["serve", "echo", "--workers", "0"], { out: () => {}, err: (t) => (err += t) });
    expect(code).toBe(2);
    expect(err).toContain("--workers must be an integer from 1 to 1024, got '0'");
  });
});
