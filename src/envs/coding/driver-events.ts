import { FrameReader } from "../../server/sandbox/frames.js";

/** A test snippet, as the driver takes it. */
export interface DriverTest {
  readonly name: string;
  readonly code: string;
}

/** One test's result, as the driver reports it. */
export interface DriverTestResult {
  readonly name: string;
  readonly passed: boolean;
  readonly message: string;
  readonly output: string;
}

/** How the interpreter (the kernel, inside the driver) died during an execution. */
export interface KernelDeath {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** The driver's report of a finished execution. */
export interface DriverDone {
  readonly seq: number;
  readonly exit_code: number;
  readonly error_name: string;
  readonly error_message: string;
  readonly result: string;
  readonly interrupted: boolean;
  readonly tests: DriverTestResult[];
  /** The kernel was replaced before or during this execution (its variables are gone). */
  readonly restarted: boolean;
  /** The kernel was killed at the server's request (it did not stop when interrupted). */
  readonly killed: boolean;
  /** The kernel died by itself during the execution. */
  readonly died: KernelDeath | null;
}

/** Largest event frame from the driver: a done event of 256 tests with 64 KiB of output each fits. */
const maxEventBytes = 32 * 1024 * 1024;

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
export const isText = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;

/** A done event, checked field by field (the driver lives in the sandbox: its words are hostile input). */
export function parseDone(e: Record<string, unknown>): DriverDone | undefined {
  if (!Number.isSafeInteger(e.seq) || !Number.isSafeInteger(e.exit_code)) return undefined;
  if (!isText(e.error_name, 1_000) || !isText(e.error_message, 100_000) || !isText(e.result, 100_000)) return undefined;
  for (const flag of [e.interrupted, e.restarted, e.killed]) if (typeof flag !== "boolean") return undefined;
  if (!Array.isArray(e.tests) || e.tests.length > 256) return undefined;
  const tests: DriverTestResult[] = [];
  for (const t of e.tests) {
    if (!isRecord(t) || !isText(t.name, 1_000) || typeof t.passed !== "boolean") return undefined;
    if (!isText(t.message, 100_000) || !isText(t.output, 100_000)) return undefined;
    tests.push({ name: t.name, passed: t.passed, message: t.message, output: t.output });
  }
  let died: KernelDeath | null = null;
  if (e.died !== null) {
    if (!isRecord(e.died)) return undefined;
    const { code, signal } = e.died;
    if (!(code === null || Number.isSafeInteger(code)) || !(signal === null || isText(signal, 20))) return undefined;
    died = { code: code as number | null, signal: signal as NodeJS.Signals | null };
  }
  return {
    seq: e.seq as number,
    exit_code: e.exit_code as number,
    error_name: e.error_name,
    error_message: e.error_message,
    result: e.result,
    interrupted: e.interrupted as boolean,
    tests,
    restarted: e.restarted as boolean,
    killed: e.killed as boolean,
    died,
  };
}

/** The driver's event channel: frames of JSON objects, each with an `ev` name. */
export class EventReader {
  private readonly frames = new FrameReader(maxEventBytes);

  /**
   * The events in a chunk, parsed one at a time as they are taken, so that the
   * events before a broken frame are still handled. Throws (a FrameError, or an
   * Error saying what is wrong) at the first frame that breaks the protocol.
   */
  *push(chunk: Buffer): Generator<Record<string, unknown> & { ev: string }> {
    for (const body of this.frames.push(chunk)) {
      let event: unknown;
      try {
        event = JSON.parse(body.toString("utf8"));
      } catch {
        throw new Error("the driver sent a frame that is not JSON");
      }
      if (!isRecord(event) || typeof event.ev !== "string") throw new Error("the driver sent a frame that is not an event");
      yield event as Record<string, unknown> & { ev: string };
    }
  }
}
