/** The outcome of one validation check. */
export interface CheckResult {
  /** Stable id, e.g. `grpc_health` or OpenEnv's `health_endpoint`. */
  readonly name: string;
  /** Which group it belongs to (`package`, `grpc`, `openenv`). */
  readonly group: string;
  /** `fail` makes the validation fail; `warn` and `skip` do not. */
  readonly status: "pass" | "fail" | "warn" | "skip";
  /** What was seen, or what is wrong and how to fix it. */
  readonly detail: string;
  /** Set when the check failed because nothing answered (connection refused, timeout). */
  readonly unreachable?: boolean;
}

/** A whole validation. */
export interface ValidationReport {
  readonly target: string;
  readonly passed: boolean;
  readonly checks: readonly CheckResult[];
}

/** Builds a report: passed when no check failed. */
export function report(target: string, checks: readonly CheckResult[]): ValidationReport {
  return { target, passed: checks.every((c) => c.status !== "fail"), checks };
}

/** One line per check: `PASS  name  detail`. */
export function formatReport(r: ValidationReport): string {
  const width = Math.max(...r.checks.map((c) => c.name.length), 4);
  const lines = r.checks.map((c) => `${c.status.toUpperCase().padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}`);
  const failed = r.checks.filter((c) => c.status === "fail").length;
  lines.push(
    r.passed
      ? `[OK] ${r.target}: ${r.checks.filter((c) => c.status === "pass").length} checks passed`
      : `[FAIL] ${r.target}: ${failed} of ${r.checks.length} checks failed`,
  );
  return `${lines.join("\n")}\n`;
}

/** True for errors that mean "nothing answered": refused, reset, timed out, no such host. */
export function isUnreachable(err: unknown): boolean {
  const seen = new Set<unknown>();
  for (let e: unknown = err; e !== undefined && e !== null && !seen.has(e); e = (e as { cause?: unknown }).cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === "string" &&
      ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "UND_ERR_CONNECT_TIMEOUT"].includes(code)
    ) {
      return true;
    }
    const name = (e as { name?: unknown }).name;
    if (name === "TimeoutError") return true;
    const message = (e as { message?: unknown }).message;
    if (typeof message === "string" && /ECONNREFUSED|ETIMEDOUT|ENOTFOUND/.test(message)) return true;
  }
  return false;
}
