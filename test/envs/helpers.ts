import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";

/** Waits until `cond` holds, polling; fails after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = "condition"): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Asserts that `p` rejects with a ConnectError of `code` whose message matches `message`. */
export async function expectConnectError(p: Promise<unknown>, code: Code, message: RegExp | string): Promise<ConnectError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, "expected a rejection").toBeInstanceOf(ConnectError);
  const ce = err as ConnectError;
  expect(Code[ce.code]).toBe(Code[code]);
  expect(ce.rawMessage).toMatch(message);
  return ce;
}
