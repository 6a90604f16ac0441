// One worker process of a cluster: serves the environment on the shared port
// (node:cluster hands it connections), answers forwarded calls on a private
// unix socket, and talks to the primary for slots, peers and shutdown.
import cluster from "node:cluster";
import { rmdirSync, rmSync } from "node:fs";
import * as net from "node:net";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { SessionPlacement } from "../../core/placement.js";
import { replicaPrefix } from "../../core/replica.js";
import type { EnvironmentSource } from "../environment.js";
import { defaultMaxMessageBytes } from "../router.js";
import { serve } from "../serve.js";
import { sessionProxy } from "./http-proxy.js";
import { isClusterMessage, type PrimaryMessage, sessionPrefix, type WorkerMessage } from "./messages.js";
import type { ClusterEnvironment, WorkerConfig } from "./options.js";
import { PeerDirectory } from "./peers.js";
import { type Grant, WorkerSlots } from "./slots.js";

/** Request/response and notifications over the IPC channel to the primary. */
class PrimaryLink {
  private next = 0;
  private readonly waiting = new Map<number, (msg: PrimaryMessage) => void>();

  constructor(onMessage: (msg: PrimaryMessage) => void) {
    process.on("message", (raw) => {
      if (!isClusterMessage(raw)) return;
      const msg = raw as PrimaryMessage;
      if (msg.openenv === "granted" || msg.openenv === "census") {
        const resolve = this.waiting.get(msg.id);
        this.waiting.delete(msg.id);
        resolve?.(msg);
        return;
      }
      onMessage(msg);
    });
  }

  send(msg: WorkerMessage): void {
    // Without a channel the primary is gone, and node:cluster is ending this process.
    if (process.connected) process.send?.(msg);
  }

  request<T extends PrimaryMessage>(make: (id: number) => WorkerMessage): Promise<T> {
    const id = ++this.next;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (msg: PrimaryMessage) => void);
      this.send(make(id));
    });
  }
}

/** Runs this process as worker `cluster.worker.id` of a cluster. */
export async function runWorker(config: WorkerConfig): Promise<void> {
  const worker = cluster.worker;
  if (worker === undefined) throw new Error("runWorker runs in a node:cluster worker");
  const self = worker.id;
  const log = (message: string): void => {
    process.stderr.write(`openenv[worker ${self}, pid ${process.pid}]: ${message}\n`);
  };
  process.on("uncaughtException", (err) => {
    log(`crashed: ${err.stack ?? String(err)}`);
    process.exit(70);
  });

  const replica = config.options.replica;
  const peers = new PeerDirectory(
    self,
    config.options.maxMessageBytes ?? defaultMaxMessageBytes,
    replica === undefined ? "" : replicaPrefix(replica),
  );
  let slots: WorkerSlots | undefined;
  let stop: (why: string) => void = () => process.exit(0);
  const link = new PrimaryLink((msg) => {
    switch (msg.openenv) {
      case "peers":
        peers.update(msg.peers, msg.lost);
        break;
      case "recall": {
        const r = slots?.recall() ?? { n: 0, used: 0 };
        link.send({ openenv: "recalled", id: msg.id, n: r.n, used: r.used });
        break;
      }
      case "count":
        link.send({ openenv: "counted", id: msg.id, used: slots?.inUse ?? 0 });
        break;
      case "shutdown":
        stop("asked by the primary");
        break;
    }
  });
  const workerSlots = new WorkerSlots(
    (want, used) =>
      link.request<Extract<PrimaryMessage, { openenv: "granted" }>>((id) => ({ openenv: "acquire", id, want, used })) as Promise<Grant>,
    (n) => link.send({ openenv: "release", n }),
    config.spareSlots,
  );
  slots = workerSlots;
  const placement: SessionPlacement = {
    idPrefix: sessionPrefix(self),
    acquireSlot: () => workerSlots.acquire(),
    releaseSlot: () => workerSlots.release(),
    remote: (id) => peers.remote(id),
    activeSessions: async () =>
      (await link.request<Extract<PrimaryMessage, { openenv: "census" }>>((id) => ({ openenv: "census", id }))).active,
  };

  const source = await loadSource(config.environment);
  const server = await serve(source, {
    ...config.options,
    placement,
    surfaces: () => [sessionProxy(peers)],
  });

  // Calls forwarded by other workers arrive on a unix socket only this user can reach
  // (the directory is 0700), served by the same handlers as the public port; a
  // draining worker waits for them too, so relayed steps deliver their results.
  const socketPath =
    process.platform === "win32" ? `\\\\?\\pipe\\${basename(config.socketDir)}-w${self}` : join(config.socketDir, `w${self}.sock`);
  const internal = net.createServer((socket) => server.listener.adopt(socket));
  await new Promise<void>((resolve, reject) => {
    internal.once("error", reject);
    // exclusive: bound by this worker itself, not shared through the primary as node:cluster would.
    internal.listen({ path: socketPath, exclusive: true }, () => resolve());
  });
  process.once("exit", () => {
    // Normally the primary removes the directory; if it died first, the last worker out does.
    rmSync(socketPath, { force: true });
    try {
      rmdirSync(config.socketDir);
    } catch {
      // other workers' sockets are still there, or it is gone already
    }
  });

  let stopping = false;
  stop = (why) => {
    if (stopping) return;
    stopping = true;
    log(`shutting down (${why})`);
    void (async () => {
      await server.close();
      internal.close();
      peers.close();
      process.exit(0);
    })();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  link.send({ openenv: "ready", port: server.port, socket: socketPath });
}

/** Imports the environment this worker serves. */
async function loadSource(environment: ClusterEnvironment): Promise<EnvironmentSource> {
  if ("manifest" in environment) {
    const { environmentFromPath } = await import("../../auto/discovery.js");
    const { loadEnvironment } = await import("../../auto/load.js");
    return (await loadEnvironment(environmentFromPath(environment.manifest))).source;
  }
  const spec = environment.module;
  const url = spec.startsWith("file:") ? spec : pathToFileURL(resolve(spec)).href;
  const exports = (await import(url)) as Record<string, unknown>;
  const name = environment.export ?? "default";
  const value = exports[name];
  const hasSpec =
    value !== null && (typeof value === "function" || typeof value === "object") && typeof (value as { spec?: unknown }).spec === "object";
  if (!hasSpec) throw new TypeError(`export '${name}' of ${spec} is not an Environment class with a static spec (or a factory)`);
  return value as EnvironmentSource;
}
