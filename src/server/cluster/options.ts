import type { ReplicaIdentity } from "../../core/replica.js";
import type { ServeOptions } from "../serve.js";

/**
 * The environment each worker process serves. Workers are separate processes,
 * so they import it themselves: give the module that exports it, or its
 * `openenv.yaml` manifest.
 */
export type ClusterEnvironment =
  | {
      /** Absolute path or `file:` URL of the module (a relative path resolves against the current directory). */
      readonly module: string;
      /** The export holding the Environment class (or factory). Default `default`. */
      readonly export?: string;
    }
  | {
      /** Path of an `openenv.yaml` (or of the directory holding it), as `openenv serve PATH` takes. */
      readonly manifest: string;
    };

/**
 * Options of {@link serveCluster}: those of `serve()` that can cross a process
 * boundary (no functions: interceptors, surfaces and custom auth checks stay
 * with single-process `serve()`), plus the cluster's own.
 */
export interface ClusterServeOptions
  extends Omit<ServeOptions, "surfaces" | "interceptors" | "auth" | "placement" | "protocols" | "observer" | "replica"> {
  /** Worker processes. Default: the machine's available parallelism. */
  readonly workers?: number;
  /** Static bearer tokens every worker requires (`Authorization: Bearer <token>`); health checks stay open. */
  readonly auth?: { readonly tokens: readonly string[] };
  /** How long a worker may take to load the environment and listen. Default 60 s. */
  readonly startupTimeoutMs?: number;
  /** Called on worker lifecycle events (start, exit, replacement); default: a line on stderr. */
  readonly onEvent?: (event: ClusterEvent) => void;
}

/** A worker process of a cluster. */
export interface WorkerInfo {
  /** The worker's number: session ids it opens start with `w<id>-`. Never reused. */
  readonly id: number;
  readonly pid: number;
}

/** Something that happened to a worker. */
export type ClusterEvent =
  | {
      readonly type: "worker-ready";
      readonly worker: number;
      readonly pid: number;
      /** The worker this one replaces, after it exited. */
      readonly replaces?: number;
    }
  | {
      readonly type: "worker-exit";
      readonly worker: number;
      readonly pid: number;
      readonly code: number | null;
      readonly signal: string | null;
      /** False when the worker died on its own (crash, kill): its sessions are lost. */
      readonly expected: boolean;
      /** A replacement is starting. */
      readonly replaced: boolean;
    };

/** Options each worker passes to `serve()`: the serializable part of {@link ClusterServeOptions}. */
export type WorkerServeOptions = Omit<ClusterServeOptions, "workers" | "startupTimeoutMs" | "onEvent" | "replicaId"> & {
  /** The server's replica identity: every worker issues ids with the same replica prefix. */
  readonly replica?: ReplicaIdentity;
};

/** What the primary hands a worker it forks (as JSON in its environment). */
export interface WorkerConfig {
  readonly environment: ClusterEnvironment;
  readonly options: WorkerServeOptions;
  /** The private directory of the workers' unix sockets. */
  readonly socketDir: string;
  /** Free session slots a worker keeps at hand. */
  readonly spareSlots: number;
}

/** The environment variable carrying a worker's {@link WorkerConfig}. */
export const WORKER_CONFIG_ENV = "OPENENV_CLUSTER_WORKER";
