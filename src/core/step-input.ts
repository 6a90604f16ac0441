import type { ConnectError } from "@connectrpc/connect";
import type { StepRequest, StepResponse } from "../../gen/openenv/v1/environment_service_pb.js";
import type { ForwardedHeaders } from "./placement.js";
import type { Session } from "./session.js";

/**
 * What a transport and a Step stream exchange: requests pushed in, replies out
 * through a sink, the end of input as a half-close or an abort.
 */

/** Where a Step stream's replies go: a queue for connect-node, or an HTTP/2 stream directly (fast path). */
export interface ReplySink {
  push(res: StepResponse): void;
  /** The stream ended normally. */
  end(): void;
  /** The stream ends with this error. */
  fail(err: ConnectError): void;
}

/** The input side of a Step stream, as a transport drives it. */
export interface StepInput {
  /** Handles the next request of the stream. */
  feed(req: StepRequest): void;
  /** The client half-closed the stream: finish what is running, then end the session and the stream. */
  finish(): void;
  /** The stream broke (client gone: the session waits for a resume) or the server shuts down (UNAVAILABLE: running steps deliver first). */
  abort(reason: unknown): void;
}

/** What a Step stream needs of the session manager. */
export interface SessionSource {
  /** Opens a new session (RESOURCE_EXHAUSTED at capacity, UNAVAILABLE while shutting down). */
  open(): Promise<Session>;
  /** An open session of this process, by id. */
  find(id: string): Session | undefined;
  /** The error for a session id this process does not hold (NOT_FOUND; `SessionLost` when another replica held it). */
  missing(id: string): ConnectError;
  /** Counts a request refused before it reached a session (an invalid action). */
  rejected(error: ConnectError): void;
}

/** Options of a Step stream. */
export interface StepStreamOptions {
  /**
   * The session outlives the stream (until CloseSession or the idle timeout), so that
   * short-lived clients such as `openenv step` can drive one session across many streams.
   * Set by the request header {@link keepSessionHeader}.
   */
  readonly keepSession?: boolean;
  /** The request's headers, forwarded when the stream is relayed to another process ({@link serveCluster}). */
  readonly requestHeaders?: ForwardedHeaders;
}

/** Opens a Step stream over the server's sessions (relaying to another process where one owns the session). */
export type OpenStepStream = (out: ReplySink, options: StepStreamOptions) => StepInput;

/**
 * Aborts the stream when `signal` does (server shutdown, or the client's
 * cancel), at once if it already has; returns a function that stops listening.
 */
export function abortOn(signal: AbortSignal, input: StepInput): () => void {
  if (signal.aborted) {
    queueMicrotask(() => input.abort(signal.reason));
    return () => {};
  }
  const onAbort = (): void => input.abort(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  return () => signal.removeEventListener("abort", onAbort);
}

/** Request header of a Step stream whose session should outlive the stream. */
export const keepSessionHeader = "openenv-keep-session";

/** Whether a request asked to keep its session after the stream ends. */
export function wantsKeepSession(value: string | string[] | null | undefined): boolean {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.trim().toLowerCase() === "true";
}
