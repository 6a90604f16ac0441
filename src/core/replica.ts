import { randomBytes } from "node:crypto";
import type { ConnectError } from "@connectrpc/connect";
import { sessionLostError } from "../protocol/errors.js";

/**
 * Which server process issued a session: the replica's name, given by whoever
 * runs it (`openenv serve --replica-id r2`, a StatefulSet pod's name), and a
 * nonce drawn when the process starts. Both lead every session id the replica
 * issues (`r2.k3f9x0.<uuid>`), so a load balancer routes a call to the replica
 * that holds its session with a prefix match on the id, and a replica that
 * restarted recognises the ids of its previous life.
 */
export interface ReplicaIdentity {
  /** The replica's name: letters, digits, `-` and `_`, at most 63 characters (a DNS label fits). */
  readonly id: string;
  /** Drawn at start: ids of an earlier process of the same replica carry another. */
  readonly boot: string;
}

const REPLICA_ID = /^[A-Za-z0-9_-]{1,63}$/;
const PREFIXED = /^([A-Za-z0-9_-]{1,63})\.([a-z0-9]{1,16})\./;

/** A replica identity for `id`, with a fresh boot nonce unless one is given; throws on a malformed id. */
export function replicaIdentity(id: string, boot: string = newBoot()): ReplicaIdentity {
  if (!REPLICA_ID.test(id)) {
    throw new RangeError(`replica id '${id}' must be 1-63 letters, digits, '-' or '_' (it leads every session id, before a '.')`);
  }
  if (!/^[a-z0-9]{1,16}$/.test(boot)) throw new RangeError(`boot nonce '${boot}' must be 1-16 lowercase letters or digits`);
  return { id, boot };
}

/** The prefix of the session ids a replica issues: `<id>.<boot>.`. */
export function replicaPrefix(replica: ReplicaIdentity): string {
  return `${replica.id}.${replica.boot}.`;
}

/** The replica and boot a session id names, if it was issued by a replica. */
export function replicaOf(sessionId: string): ReplicaIdentity | undefined {
  const m = PREFIXED.exec(sessionId);
  return m === null ? undefined : { id: m[1] as string, boot: m[2] as string };
}

/**
 * Why this replica does not hold `sessionId`, when the id says it belongs to
 * another process: another replica (the balancer sends a call here only when
 * that replica is down), or an earlier life of this one. Undefined otherwise.
 */
export function lostToReplica(sessionId: string, self: ReplicaIdentity): ConnectError | undefined {
  const owner = replicaOf(sessionId);
  if (owner === undefined) return undefined;
  if (owner.id !== self.id) {
    return sessionLostError(
      { sessionId, holder: owner.id },
      `session '${sessionId}' was lost: replica ${owner.id}, which held it, is not serving (the load balancer sent this call to replica ${self.id}); its sessions ended with it`,
    );
  }
  if (owner.boot !== self.boot) {
    return sessionLostError(
      { sessionId, holder: owner.id },
      `session '${sessionId}' was lost: replica ${owner.id} restarted since it opened the session; its sessions ended with the previous process`,
    );
  }
  return undefined;
}

function newBoot(): string {
  // 8 base-36 characters from 40 random bits: two lives of one replica never share a nonce in practice.
  return BigInt(`0x${randomBytes(5).toString("hex")}`)
    .toString(36)
    .padStart(8, "0");
}
