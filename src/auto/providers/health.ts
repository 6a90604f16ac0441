/**
 * Waiting for a server to come up. A server counts as healthy when either the
 * gRPC health service answers SERVING (Connect JSON over HTTP/1.1, so a plain
 * `fetch` works) or OpenEnv's `GET /health` answers 200.
 */

/** Options of {@link waitForHealthy}. */
export interface HealthWaitOptions {
  /** Give up after this long. Default 30 s. */
  readonly timeoutMs?: number;
  /** Pause between attempts. Default 100 ms, growing to 1 s. */
  readonly intervalMs?: number;
  /** Called every few seconds while waiting (progress output). */
  readonly onProgress?: (message: string) => void;
  /** Checked between attempts; return a reason to stop waiting (e.g. the child exited). */
  readonly failed?: () => string | undefined;
  readonly signal?: AbortSignal;
}

/** A server that did not become healthy in time, or whose process died first. */
export class ServerStartError extends Error {
  override readonly name = "ServerStartError";
}

/** One health probe: true if the server answers healthy now. */
export async function probeHealth(baseUrl: string, timeoutMs = 2_000): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(`${baseUrl}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json", "connect-protocol-version": "1" },
      body: "{}",
      signal,
    });
    const body = await res.text();
    if (res.ok && /"status"\s*:\s*"SERVING"/.test(body)) return true;
  } catch {
    // not reachable (yet), or not a Connect server: try OpenEnv's route
  }
  try {
    const res = await fetch(`${baseUrl}/health`, { signal });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Polls until the server at `baseUrl` is healthy; throws {@link ServerStartError} on timeout. */
export async function waitForHealthy(baseUrl: string, options: HealthWaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const started = Date.now();
  let interval = options.intervalMs ?? 100;
  let lastReport = started;
  for (;;) {
    options.signal?.throwIfAborted();
    const reason = options.failed?.();
    if (reason !== undefined) throw new ServerStartError(reason);
    const left = timeoutMs - (Date.now() - started);
    if (await probeHealth(baseUrl, Math.max(200, Math.min(2_000, left)))) return;
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      throw new ServerStartError(`the server at ${baseUrl} did not become healthy within ${Math.round(timeoutMs / 1000)} s`);
    }
    if (Date.now() - lastReport >= 5_000) {
      lastReport = Date.now();
      options.onProgress?.(`waiting for ${baseUrl} to become healthy (${Math.round(elapsed / 1000)} s)`);
    }
    await new Promise((r) => setTimeout(r, Math.min(interval, Math.max(0, timeoutMs - elapsed))));
    interval = Math.min(1_000, interval * 2);
  }
}
