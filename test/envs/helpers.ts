import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";

export { waitFor } from "../fixtures/wait-for.js";

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
