import { Code, ConnectError } from "@connectrpc/connect";
import { type CheckResult, isUnreachable } from "./check.js";

// Running one check: its verdict from what it returns or throws, and the helpers checks fail with.

export type CheckFn = () => Promise<string | { status: "warn" | "skip"; detail: string }>;

export async function runCheck(group: string, name: string, fn: CheckFn): Promise<CheckResult> {
  try {
    const r = await fn();
    return typeof r === "string" ? { name, group, status: "pass", detail: r } : { name, group, ...r };
  } catch (err) {
    return { name, group, status: "fail", detail: describeError(err), unreachable: isUnreachable(err) };
  }
}

/** An error's message with its cause's (fetch says only "fetch failed"). */
function describeError(err: unknown): string {
  if (err instanceof ConnectError) return `${err.rawMessage} [${Code[err.code]}]`;
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause === undefined || err.message.includes(cause) ? err.message : `${err.message} (${cause})`;
}

/** A failed expectation inside a check. */
export class CheckFailure extends Error {}

export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailure(message);
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailure(`${what} got no reply within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
