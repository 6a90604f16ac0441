import { Code, ConnectError } from "@connectrpc/connect";
import type { HeaderValues } from "./backend.js";

/** How a client retries a request whose stream broke (the connection dropped, the server restarted its listener). */
export interface RetryPolicy {
  /** Retries per request after a broken stream. Default 5; 0 disables resuming. */
  readonly attempts?: number;
  /** First backoff; it doubles per attempt, with ±50% jitter. Default 50 ms. */
  readonly backoffMs?: number;
  /** Longest backoff. Default 2 s. */
  readonly maxBackoffMs?: number;
}

/** What a client reports when it resumes its session on a new stream. */
export interface ReconnectEvent {
  /** 1 for the first retry of a request. */
  readonly attempt: number;
  readonly sessionId: string | undefined;
  /** Why the previous stream broke. */
  readonly error: ConnectError;
  /** How long the client waits before retrying. */
  readonly delayMs: number;
}

/** A resume policy with its defaults filled in. */
export function retryPolicy(policy: RetryPolicy | false | undefined): Required<RetryPolicy> {
  const r = policy === false ? { attempts: 0 } : (policy ?? {});
  return { attempts: r.attempts ?? 5, backoffMs: r.backoffMs ?? 50, maxBackoffMs: r.maxBackoffMs ?? 2_000 };
}

/** The wait before resume attempt `attempt` (0-based): exponential, capped, ±50% jitter. */
export function resumeDelay(policy: Required<RetryPolicy>, attempt: number): number {
  const base = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** attempt);
  return Math.round(base * (0.5 + Math.random()));
}

/**
 * Opening a session again after a server refused it because it is full
 * (RESOURCE_EXHAUSTED with `CapacityInfo`) or draining (UNAVAILABLE). Behind a
 * load balancer each attempt is a new request, which the balancer may send to
 * another replica; nothing was opened, so a retry cannot duplicate anything.
 */
export interface OpenRetryPolicy {
  /** Retries after the first refusal. Default 3; 0 disables. */
  readonly attempts?: number;
  /** First backoff; it doubles per attempt, with ±50% jitter. Default 50 ms. */
  readonly backoffMs?: number;
}

/** The header carrying the session a call addresses, on every transport, for load balancers to route on. */
export const SESSION_HEADER = "openenv-session-id";

/** A policy with its defaults filled in. */
export function openRetryPolicy(policy: OpenRetryPolicy | false | undefined): Required<OpenRetryPolicy> {
  const p = policy === false ? { attempts: 0 } : (policy ?? {});
  return { attempts: p.attempts ?? 3, backoffMs: p.backoffMs ?? 50 };
}

/** True for a refused open worth retrying elsewhere: the server is full or takes no new sessions. */
export function refusedOpen(err: unknown): err is ConnectError {
  return err instanceof ConnectError && (err.code === Code.ResourceExhausted || err.code === Code.Unavailable);
}

/** Waits before retry `n` (1-based) of an open. */
export function openBackoff(policy: Required<OpenRetryPolicy>, n: number): Promise<void> {
  const ms = Math.round(policy.backoffMs * 2 ** (n - 1) * (0.5 + Math.random()));
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `open` (which opens a session and returns what it got) until it
 * succeeds, fails otherwise than by a refusal, or the retries run out.
 */
export async function retryingOpen<T>(policy: Required<OpenRetryPolicy>, open: (attempt: number) => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await open(n);
    } catch (err) {
      if (!refusedOpen(err) || n >= policy.attempts) throw err;
      await openBackoff(policy, n + 1);
    }
  }
}

/** `headers` plus the session header (a new Headers object; `headers` is left as it is). */
export function withSession(headers: HeaderValues | undefined, sessionId: string | undefined): HeaderValues | undefined {
  if (sessionId === undefined) return headers;
  const out = new Headers(headers);
  out.set(SESSION_HEADER, sessionId);
  return out;
}
