/** IPC between the soak driver and its client processes. */

/** One session a client process drives: resumed when `sessionId` is set, opened otherwise. */
export interface SessionPlan {
  /** Stable name of the session slot; request ids are `<key>.<seq>`. */
  readonly key: string;
  readonly sessionId: string | undefined;
  /** Steps the driver knows completed; the client retries `acked + 1` first. */
  readonly acked: number;
  /** Which client stack and wire protocol the session uses. */
  readonly kind: ClientKind;
}

/** `fast-*`: the raw HTTP/2 Step channel with that framing; `connect-json`: connect-node's client (server's generic path). */
export type ClientKind = "fast-grpc" | "fast-connect" | "fast-grpc-web" | "connect-json";

export type DriverMessage = { type: "init"; url: string; sessions: SessionPlan[] } | { type: "drop" } | { type: "stop" };

/** What a session reached: sent by the client process every 100 ms and when it exits. */
export interface SessionProgress {
  readonly key: string;
  readonly sessionId: string | undefined;
  readonly acked: number;
  /** Step ids abandoned after every retry failed (must stay 0). */
  readonly givenUp: number;
}

export interface ClientCounters {
  /** Step requests written, retries included. */
  sends: number;
  /** Sends of an id sent before (after a dropped connection or a restart). */
  retries: number;
  /** Replies that did not match their request (wrong echo or step count; must stay 0). */
  mismatched: number;
  /** Stream reopenings that attached an existing session. */
  resumes: number;
  /** Failed requests by Connect code name. */
  errors: Record<string, number>;
  /** The first message seen of each code, to say what happened. */
  samples: Record<string, string>;
}

export type ClientMessage =
  | { type: "progress"; sessions: SessionProgress[]; counters: ClientCounters }
  | { type: "done"; sessions: SessionProgress[]; counters: ClientCounters };
