import type { Code } from "@connectrpc/connect";

/** An environment call, as a {@link SessionObserver} counts it. */
export type CallKind = "reset" | "step" | "state";

/**
 * What the session core reports as it works: every transport's calls end in
 * the same `SessionManager` and `Session`, so an observer sees them all the
 * same way (the server's `/metrics` is one). Methods must be cheap and must not
 * throw: `call` runs once per step.
 */
export interface SessionObserver {
  /** A session was opened. */
  opened(): void;
  /** An open was refused: RESOURCE_EXHAUSTED (capacity), UNAVAILABLE (draining, shutting down), or the factory failed. */
  refused(code: Code): void;
  /** A session closed. */
  closed(): void;
  /** A reset, step or state read answered its caller after `seconds` (queueing included); `error` is its code when it failed. */
  call(kind: CallKind, seconds: number, error: Code | undefined): void;
  /** A request was answered with an error before reaching a session: an unknown or lost session, an invalid action. */
  rejected(code: Code, lost: boolean): void;
  /** A holder (a Step stream, a WebSocket) attached to a session opened earlier: a resume after a drop, or a takeover. */
  resumed(): void;
}

/** Observes nothing. */
export const noObserver: SessionObserver = {
  opened() {},
  refused() {},
  closed() {},
  call() {},
  rejected() {},
  resumed() {},
};
