import { type CheckResult, report, type ValidationReport } from "./check.js";
import { grpcChecks } from "./grpc-checks.js";
import { openEnvChecks } from "./openenv-checks.js";

/** Which checks {@link validateServer} runs. */
export type ServerCheckGroup = "all" | "grpc" | "openenv";

/** Options of {@link validateServer}. */
export interface ServerValidationOptions {
  /** `grpc`: our Connect/gRPC contract; `openenv`: OpenEnv's HTTP/WebSocket surface; `all` (default): both. */
  readonly checks?: ServerCheckGroup;
  /** Deadline of each request. Default 5 s (OpenEnv's `--timeout`). */
  readonly timeoutMs?: number;
  /** Headers sent with every request (e.g. `authorization` for a server started with a token). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Checks a running server: the openenv-connect contract (health, Describe,
 * reflection, every protocol, a session's lifecycle and the Step stream) and
 * OpenEnv's HTTP/WebSocket surface, with the criteria names of OpenEnv's
 * `openenv validate --url` (`health_endpoint`, `schema_endpoint`, ...).
 */
export async function validateServer(url: string, options: ServerValidationOptions = {}): Promise<ValidationReport> {
  const baseUrl = url.replace(/\/+$/, "");
  const which = options.checks ?? "all";
  const timeoutMs = options.timeoutMs ?? 5_000;
  const headers = options.headers ?? {};
  const checks: CheckResult[] = [];
  if (which === "all" || which === "grpc") checks.push(...(await grpcChecks(baseUrl, timeoutMs, headers)));
  if (which === "all" || which === "openenv") checks.push(...(await openEnvChecks(baseUrl, timeoutMs, headers)));
  return report(baseUrl, checks);
}
