import { randomUUID } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { capacityError } from "../protocol/errors.js";
import type { EnvironmentFactory } from "../server/environment.js";
import type { SessionPlacement } from "./placement.js";
import { lostToReplica, type ReplicaIdentity, replicaPrefix } from "./replica.js";
import { type CloseReason, Session, type SessionTiming } from "./session.js";
import { noObserver, type SessionObserver } from "./session-observer.js";

/** Limits of a {@link SessionManager}; every field has a default. */
export interface SessionLimits extends SessionTiming {
  /** Most sessions open at once. */
  readonly maxSessions: number;
  /** Close a session after this long without a reset or step; 0 disables. */
  readonly idleTimeoutMs: number;
}

/** Options of a {@link SessionManager}: its limits, and how many replies each session remembers. */
export interface SessionManagerOptions extends Partial<SessionLimits> {
  /** Replies remembered per session for request-id deduplication. Default 256. */
  readonly recordSize?: number;
  /**
   * This server's replica identity, when it runs as one of several behind a load balancer:
   * every session id starts with `<id>.<boot>.`, and a call for a session of another
   * replica, or of an earlier life of this one, is answered NOT_FOUND with `SessionLost`.
   */
  readonly replica?: ReplicaIdentity;
  /** Told of every open, call and close (the server's metrics). */
  readonly observer?: SessionObserver;
}

/** The defaults: documented in the README's "Limits" table. */
export const defaultSessionLimits: SessionLimits = {
  maxSessions: 64,
  idleTimeoutMs: 600_000,
  resumeGraceMs: 10_000,
  stepTimeoutMs: 300_000,
  abortGraceMs: 5_000,
};

/**
 * The fields of `partial` that hold a value: an option given as `undefined` (a CLI flag
 * that was not passed) keeps its default instead of erasing it, as a spread would.
 */
export function definedOnly<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Live counters, for Describe, metrics and tests. */
export interface SessionStats {
  readonly active: number;
  readonly max: number;
  readonly opened: number;
  readonly closed: number;
}

/**
 * Owns every session of one environment type: creates instances on demand up to
 * `maxSessions`, finds them by id, and closes idle ones.
 */
export class SessionManager {
  readonly limits: SessionLimits;
  /** This server's replica identity, if it has one. */
  readonly replica: ReplicaIdentity | undefined;
  private readonly recordSize: number;
  private readonly idPrefix: string;
  private readonly observer: SessionObserver;
  private readonly sessions = new Map<string, Session>();
  private pending = 0;
  private opened = 0;
  private closedCount = 0;
  private reaper: NodeJS.Timeout | undefined;
  private draining: CloseReason | undefined;
  private readonly idleWaiters = new Set<() => void>();

  /**
   * @param placement set when the server runs as several processes ({@link serveCluster}):
   *   ids get the process's prefix and every session takes a slot of the shared limit.
   */
  constructor(
    readonly factory: EnvironmentFactory,
    options: SessionManagerOptions = {},
    private readonly placement?: SessionPlacement,
  ) {
    const { recordSize, replica, observer, ...limits } = options;
    this.limits = { ...defaultSessionLimits, ...definedOnly(limits) };
    this.recordSize = recordSize ?? 256;
    this.replica = replica;
    this.observer = observer ?? noObserver;
    this.idPrefix = (replica === undefined ? "" : replicaPrefix(replica)) + (placement?.idPrefix ?? "");
    const spec = factory.spec;
    if (this.limits.maxSessions < 1) throw new RangeError("maxSessions must be at least 1");
    if (spec.supportsConcurrentSessions === false && this.limits.maxSessions > 1) {
      throw new RangeError(
        `environment '${spec.name}' does not support concurrent sessions (supportsConcurrentSessions: false); maxSessions must be 1, not ${this.limits.maxSessions}`,
      );
    }
    if (this.limits.idleTimeoutMs > 0) {
      const every = Math.max(50, Math.min(this.limits.idleTimeoutMs / 4, 5_000));
      this.reaper = setInterval(() => this.reap(), every);
      this.reaper.unref();
    }
  }

  /** Sessions open now (including ones being created). */
  get active(): number {
    return this.sessions.size + this.pending;
  }

  /** Counters since start. */
  stats(): SessionStats {
    return { active: this.active, max: this.limits.maxSessions, opened: this.opened, closed: this.closedCount };
  }

  /** Opens a session: RESOURCE_EXHAUSTED at capacity, UNAVAILABLE while shutting down. */
  async open(): Promise<Session> {
    try {
      const session = await this.create();
      this.observer.opened();
      return session;
    } catch (err) {
      this.observer.refused(ConnectError.from(err, Code.Internal).code);
      throw err;
    }
  }

  private async create(): Promise<Session> {
    if (this.draining !== undefined) throw new ConnectError(this.draining.message, this.draining.code);
    if (this.active >= this.limits.maxSessions) {
      throw capacityError({ activeSessions: this.active, maxSessions: this.limits.maxSessions });
    }
    this.pending++; // reserve the slot before the (possibly async) factory runs
    const placement = this.placement;
    let env: Awaited<ReturnType<EnvironmentFactory["create"]>>;
    try {
      if (placement !== undefined) {
        // The limit is server-wide: a slot may have to come from another process.
        const slot = placement.acquireSlot();
        const refused = slot === undefined ? undefined : await slot;
        if (refused !== undefined) throw capacityError(refused);
      }
      try {
        env = await this.factory.create();
      } catch (err) {
        placement?.releaseSlot();
        throw new ConnectError(
          `Environment factory '${this.factory.spec.name}' failed to create instance.`,
          Code.Internal,
          undefined,
          undefined,
          err,
        );
      }
    } finally {
      this.pending--;
    }
    const id = this.idPrefix + randomUUID();
    const session = new Session(id, env, this.factory.spec, {
      timing: this.limits,
      recordSize: this.recordSize,
      observer: this.observer,
      onClosed: (s) => {
        if (this.sessions.delete(s.id)) {
          this.closedCount++;
          this.observer.closed();
          placement?.releaseSlot();
          if (this.active === 0) for (const done of [...this.idleWaiters]) done();
        }
      },
    });
    this.sessions.set(session.id, session);
    this.opened++;
    const draining = this.draining as CloseReason | undefined; // may have been set while the factory ran
    if (draining !== undefined) {
      await session.close(draining);
      throw new ConnectError(draining.message, draining.code);
    }
    return session;
  }

  /** Finds an open session: NOT_FOUND when there is none with this id (see {@link missing}). */
  get(id: string): Session {
    const session = this.sessions.get(id);
    if (session === undefined) throw this.missing(id);
    return session;
  }

  /**
   * The error for a call naming a session this process does not hold: NOT_FOUND,
   * with a `SessionLost` detail when the id says another replica (or an earlier
   * life of this one) held it. Counted as a rejected request.
   */
  missing(id: string): ConnectError {
    const lost = this.replica === undefined ? undefined : lostToReplica(id, this.replica);
    const error = lost ?? new ConnectError(`session '${id}' not found`, Code.NotFound);
    this.observer.rejected(error.code, lost !== undefined);
    return error;
  }

  /** Counts a request refused before it reached a session (an invalid action), for the metrics. */
  rejected(error: ConnectError): void {
    this.observer.rejected(error.code, false);
  }

  /** Finds a session without throwing. */
  find(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /** Closes a session by id; false when it was not open. */
  async close(id: string, reason: CloseReason = { code: Code.NotFound, message: "the session was closed" }): Promise<boolean> {
    const session = this.sessions.get(id);
    if (session === undefined) return false;
    await session.close(reason);
    return true;
  }

  /** Closes sessions idle for longer than `idleTimeoutMs` (a session running a call is not idle). */
  reap(now = Date.now()): number {
    const limit = this.limits.idleTimeoutMs;
    if (limit <= 0) return 0;
    let n = 0;
    for (const session of this.sessions.values()) {
      if (now - session.lastActivity > limit && !session.busy) {
        n++;
        void session.close({ code: Code.Aborted, message: `session idle for more than ${limit} ms` });
      }
    }
    return n;
  }

  /** Refuses new sessions from now on, with this code and message (a later call replaces them). */
  drain(reason: CloseReason): void {
    this.draining = reason;
  }

  /** Resolves once no session is open, or after `timeoutMs`, whichever comes first. */
  idle(timeoutMs: number): Promise<void> {
    if (this.active === 0 || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.idleWaiters.add(done);
    });
  }

  /** Closes every session and stops the reaper. */
  async closeAll(reason: CloseReason): Promise<void> {
    this.drain(reason);
    if (this.reaper !== undefined) clearInterval(this.reaper);
    await Promise.all([...this.sessions.values()].map((s) => s.close(reason)));
  }
}
