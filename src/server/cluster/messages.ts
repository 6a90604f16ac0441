// The IPC protocol between the primary of a cluster and its workers. Every
// message carries an `openenv` tag so it cannot be mistaken for node:cluster's own.

/** A worker that serves, as the primary announces it to the others. */
export interface PeerInfo {
  /** node:cluster's worker id: never reused, so an id names one process. */
  readonly id: number;
  readonly pid: number;
  /** The worker's private unix socket (HTTP/2), for calls forwarded to it. */
  readonly socket: string;
}

/** A worker that exited: its sessions are lost. */
export interface LostWorker {
  readonly id: number;
  /** Why, for the error a client gets when it addresses one of its sessions. */
  readonly reason: string;
}

/** Messages a worker sends to the primary. */
export type WorkerMessage =
  | { readonly openenv: "ready"; readonly port: number; readonly socket: string }
  | { readonly openenv: "acquire"; readonly id: number; readonly want: number; readonly used: number }
  | { readonly openenv: "release"; readonly n: number }
  | { readonly openenv: "recalled"; readonly id: number; readonly n: number; readonly used: number }
  | { readonly openenv: "census"; readonly id: number }
  | { readonly openenv: "counted"; readonly id: number; readonly used: number };

/** Messages the primary sends to a worker. */
export type PrimaryMessage =
  | { readonly openenv: "peers"; readonly peers: readonly PeerInfo[]; readonly lost: readonly LostWorker[] }
  | { readonly openenv: "granted"; readonly id: number; readonly n: number; readonly active: number; readonly max: number }
  | { readonly openenv: "recall"; readonly id: number }
  | { readonly openenv: "count"; readonly id: number }
  | { readonly openenv: "census"; readonly id: number; readonly active: number }
  | { readonly openenv: "shutdown" };

/** True for a message of this protocol (node:cluster sends its own on the same channel). */
export function isClusterMessage(msg: unknown): msg is { readonly openenv: string } {
  return typeof msg === "object" && msg !== null && typeof (msg as { openenv?: unknown }).openenv === "string";
}

/** The prefix of the session ids of worker `id`. */
export function sessionPrefix(id: number): string {
  return `w${id}-`;
}

/**
 * The worker a session id names, if it is an id of this server: after the
 * replica prefix (`r2.k3f9x0.`, empty without `--replica-id`), a worker prefix.
 * An id of another replica names none of our workers.
 */
export function ownerOf(sessionId: string, replicaPrefix = ""): number | undefined {
  if (!sessionId.startsWith(replicaPrefix)) return undefined;
  const m = /^w(\d{1,9})-/.exec(sessionId.slice(replicaPrefix.length));
  return m === null ? undefined : Number(m[1]);
}
