// The primary process of a multi-process server: forks the workers, lends them
// session slots, tells them about each other, replaces the ones that die and
// drains them all on close(). node:cluster's primary accepts the connections
// on the shared port and hands them to the workers in turn.
import cluster, { type Worker } from "node:cluster";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism, tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { replicaIdentity } from "../../core/replica.js";
import { defaultSessionLimits } from "../../core/session-manager.js";
import { isClusterMessage, type LostWorker, type PrimaryMessage, type WorkerMessage } from "./messages.js";
import {
  type ClusterEnvironment,
  type ClusterEvent,
  type ClusterServeOptions,
  WORKER_CONFIG_ENV,
  type WorkerConfig,
  type WorkerInfo,
} from "./options.js";
import { type Recalled, SlotLedger } from "./slots.js";

/** A running multi-process server. */
export interface ClusterServer extends AsyncDisposable {
  /** `http://host:port`, for clients. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** The workers serving now. */
  workers(): readonly WorkerInfo[];
  /**
   * Graceful shutdown of every worker (each drains as `serve()`'s close does:
   * running steps finish and deliver, streams end with UNAVAILABLE), then of the cluster.
   */
  close(): Promise<void>;
}

interface Member {
  readonly worker: Worker;
  readonly id: number;
  readonly pid: number;
  readonly startedAt: number;
  readonly replaces: number | undefined;
  ready: boolean;
  socket: string | undefined;
  stopping: boolean;
  readonly exited: Promise<void>;
}

const LOST_KEPT = 1_000;
const ASK_TIMEOUT_MS = 2_000;

/**
 * Serves an environment from several worker processes on one port, so that a
 * server uses more than one core. Each session lives in the worker that opened
 * it (its id starts with `w<worker>-`); a call for it that reaches another
 * worker (unary Reset/State/CloseSession, a Step stream attaching by
 * `session_id`, OpenEnv's `OpenEnv-Session-Id`) is forwarded to the owner over
 * a private unix socket. `maxSessions` is the limit of the whole server. A
 * worker that dies is replaced; only its sessions are lost.
 *
 * Call it in the primary process; the workers import the environment themselves.
 *
 * @example
 * ```ts
 * const server = await serveCluster({ module: "/srv/my-env/dist/env.js", export: "MyEnv" }, { workers: 4, port: 8000 });
 * process.once("SIGTERM", () => void server.close());
 * ```
 */
export async function serveCluster(environment: ClusterEnvironment, options: ClusterServeOptions = {}): Promise<ClusterServer> {
  if (!cluster.isPrimary) throw new Error("serveCluster runs in the primary process, not in a cluster worker");
  const { workers: requested, startupTimeoutMs, onEvent, replicaId, ...serveOptions } = options;
  // One identity for the whole server: every worker's ids carry the same replica prefix and boot.
  const replica = replicaId === undefined ? undefined : replicaIdentity(replicaId);
  const count = requested ?? availableParallelism();
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`workers must be an integer of at least 1, not ${count}`);
  if (typeof (options.auth as { check?: unknown } | undefined)?.check === "function") {
    throw new TypeError("serveCluster: auth.check is a function and cannot reach the worker processes; use auth.tokens, or serve()");
  }
  const maxSessions = options.maxSessions ?? defaultSessionLimits.maxSessions;
  const host = options.host ?? "127.0.0.1";
  const emit = onEvent ?? logEvent;
  const socketDir = mkdtempSync(join(tmpdir(), "openenv-cluster-")); // mode 0700: only this user reaches the sockets
  const config: WorkerConfig = {
    environment: absolute(environment),
    options: { ...serveOptions, port: options.port ?? 8000, host, ...(replica === undefined ? {} : { replica }) },
    socketDir,
    // Spare slots spare a message per session (stateless HTTP opens one per request); the
    // primary takes them back before it refuses anyone, so they never lower the limit.
    spareSlots: Math.max(1, Math.floor(maxSessions / (count * 8))),
  };
  const { exec, execArgv } = workerEntry();

  const members = new Map<number, Member>();
  const lost: LostWorker[] = [];
  const replies = new Map<number, (msg: (WorkerMessage & { id: number }) | undefined) => void>();
  let nextAsk = 0;
  let closing = false;
  let port: number | undefined;
  let started = false;
  let startup: { resolve: () => void; reject: (err: Error) => void } | undefined;
  const restartTimers = new Set<NodeJS.Timeout>();
  let crashes: number[] = [];

  const send = (m: Member, msg: PrimaryMessage): void => {
    if (m.worker.isConnected()) m.worker.send(msg);
  };
  const ask = (m: Member, make: (id: number) => PrimaryMessage): Promise<(WorkerMessage & { id: number }) | undefined> => {
    const id = ++nextAsk;
    return new Promise((done) => {
      const timer = setTimeout(() => finish(undefined), ASK_TIMEOUT_MS);
      const finish = (msg: (WorkerMessage & { id: number }) | undefined): void => {
        clearTimeout(timer);
        replies.delete(id);
        done(msg);
      };
      replies.set(id, finish);
      send(m, make(id));
    });
  };
  const ready = (): Member[] => [...members.values()].filter((m) => m.ready);
  const ledger = new SlotLedger(
    maxSessions,
    async (w): Promise<Recalled | undefined> => {
      const m = members.get(w);
      if (m === undefined) return undefined;
      const r = await ask(m, (id) => ({ openenv: "recall", id }));
      return r?.openenv === "recalled" ? { n: r.n, used: r.used } : undefined;
    },
    () => [...members.keys()],
  );
  const announce = (): void => {
    const peers = ready().map((m) => ({ id: m.id, pid: m.pid, socket: m.socket as string }));
    for (const m of members.values()) send(m, { openenv: "peers", peers, lost });
  };

  const onMessage = (m: Member, raw: unknown): void => {
    if (!isClusterMessage(raw)) return;
    const msg = raw as WorkerMessage;
    switch (msg.openenv) {
      case "ready": {
        if (closing) {
          send(m, { openenv: "shutdown" });
          break;
        }
        m.ready = true;
        m.socket = msg.socket;
        port ??= msg.port;
        announce();
        emit({ type: "worker-ready", worker: m.id, pid: m.pid, ...(m.replaces !== undefined ? { replaces: m.replaces } : {}) });
        if (!started && ready().length >= count) startup?.resolve();
        break;
      }
      case "acquire":
        void ledger.acquire(m.id, msg.want, msg.used).then((g) => {
          if (members.get(m.id) === m) send(m, { openenv: "granted", id: msg.id, n: g.n, active: g.active, max: g.max });
          else ledger.release(m.id, g.n);
        });
        break;
      case "release":
        ledger.release(m.id, msg.n);
        break;
      case "recalled":
      case "counted":
        replies.get(msg.id)?.(msg);
        break;
      case "census":
        void Promise.all(ready().map((w) => ask(w, (id) => ({ openenv: "count", id })))).then((counts) => {
          const active = counts.reduce((sum, r) => sum + (r?.openenv === "counted" ? r.used : 0), 0);
          send(m, { openenv: "census", id: msg.id, active });
        });
        break;
    }
  };

  const onExit = (m: Member, code: number | null, signal: string | null): void => {
    members.delete(m.id);
    ledger.forget(m.id);
    const expected = closing || m.stopping;
    if (!expected) {
      const how = signal !== null ? `signal ${signal}` : `code ${code}`;
      lost.push({ id: m.id, reason: `worker ${m.id} (pid ${m.pid}), which held it, exited (${how}) and its sessions ended with it` });
      if (lost.length > LOST_KEPT) lost.splice(0, lost.length - LOST_KEPT);
    }
    announce();
    emit({ type: "worker-exit", worker: m.id, pid: m.pid, code, signal, expected, replaced: started && !closing });
    if (!started) {
      startup?.reject(new Error(`worker ${m.id} (pid ${m.pid}) exited while starting (${signal ?? `code ${code}`}); see its log`));
      return;
    }
    if (closing) return;
    // Replace it; back off when workers die soon after starting (a crash loop).
    const now = Date.now();
    crashes = crashes.filter((t) => now - t < 30_000);
    if (now - m.startedAt < 5_000) crashes.push(now);
    const delay = crashes.length === 0 ? 0 : Math.min(10_000, 250 * 2 ** (crashes.length - 1));
    const timer = setTimeout(() => {
      restartTimers.delete(timer);
      if (!closing) fork(m.id);
    }, delay);
    restartTimers.add(timer);
  };

  const fork = (replaces?: number): Member => {
    cluster.setupPrimary({ exec, execArgv, args: [], silent: false });
    const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config) });
    const exited = new Promise<void>((r) => worker.once("exit", () => r()));
    const m: Member = {
      worker,
      id: worker.id,
      pid: worker.process.pid ?? -1,
      startedAt: Date.now(),
      replaces,
      ready: false,
      socket: undefined,
      stopping: false,
      exited,
    };
    members.set(m.id, m);
    worker.on("message", (msg: unknown) => onMessage(m, msg));
    worker.once("exit", (code: number | null, signal: string | null) => onExit(m, code, signal));
    worker.on("error", () => {}); // a send to a worker that is dying
    return m;
  };

  const stopAll = async (graceMs: number): Promise<void> => {
    closing = true;
    for (const t of restartTimers) clearTimeout(t);
    restartTimers.clear();
    const all = [...members.values()];
    for (const m of all) {
      m.stopping = true;
      // A worker still starting may not listen to messages yet: it has no sessions, a signal will do.
      if (m.ready && m.worker.isConnected()) send(m, { openenv: "shutdown" });
      else m.worker.process.kill("SIGTERM");
    }
    const deadline = new Promise<void>((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.all(all.map((m) => m.exited)), deadline]);
    for (const m of all) if (m.worker.process.exitCode === null && m.worker.process.signalCode === null) m.worker.process.kill("SIGKILL");
    await Promise.all(all.map((m) => m.exited));
    rmSync(socketDir, { recursive: true, force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the workers did not start within ${startupTimeoutMs ?? 60_000} ms`)),
        startupTimeoutMs ?? 60_000,
      );
      startup = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      for (let i = 0; i < count; i++) fork();
    });
  } catch (err) {
    await stopAll(2_000);
    throw err;
  }
  started = true;
  startup = undefined;

  const boundPort = port as number;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  let closed: Promise<void> | undefined;
  const server: ClusterServer = {
    url: `http://${urlHost}:${boundPort}`,
    port: boundPort,
    host,
    workers: () => ready().map((m) => ({ id: m.id, pid: m.pid })),
    close() {
      // Each worker drains within shutdownTimeoutMs; a worker still alive well after that is killed.
      closed ??= stopAll((options.drainTimeoutMs ?? 0) + (options.shutdownTimeoutMs ?? 10_000) + 10_000);
      return closed;
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}

/** The worker's entry module; under tsx (running the TypeScript sources) the workers load tsx too. */
function workerEntry(): { exec: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const exec = join(dirname(here), `worker-main${ext}`);
  if (ext !== ".ts" || process.execArgv.some((a) => a.includes("tsx"))) return { exec, execArgv: process.execArgv };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return { exec, execArgv: [...process.execArgv, "--import", tsx] };
}

function absolute(environment: ClusterEnvironment): ClusterEnvironment {
  if ("manifest" in environment) return { manifest: resolve(environment.manifest) };
  const m = environment.module;
  return { ...environment, module: m.startsWith("file:") ? m : pathToFileURL(resolve(m)).href };
}

function logEvent(event: ClusterEvent): void {
  process.stderr.write(`${formatClusterEvent(event)}\n`);
}

/** A worker event as a log line. */
export function formatClusterEvent(event: ClusterEvent): string {
  if (event.type === "worker-ready") {
    const replacing = event.replaces !== undefined ? `, replacing worker ${event.replaces}` : "";
    return `openenv: worker ${event.worker} (pid ${event.pid}) is serving${replacing}`;
  }
  if (event.expected) return `openenv: worker ${event.worker} (pid ${event.pid}) stopped`;
  const how = event.signal !== null ? `signal ${event.signal}` : `code ${event.code}`;
  const next = event.replaced ? "; its sessions are lost; starting a replacement" : "";
  return `openenv: worker ${event.worker} (pid ${event.pid}) exited (${how})${next}`;
}
