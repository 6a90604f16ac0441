import type { DriverDone, DriverTest } from "./driver-events.js";
import { Collector } from "./output-capture.js";

export type Stream = "stdout" | "stderr";

/** One execution request. */
export interface ExecRequest {
  readonly code: string;
  readonly tests: readonly DriverTest[];
  readonly timeoutMs: number;
  /** After an interrupt at the timeout, how long the code has to stop before the kernel is killed. */
  readonly interruptGraceMs: number;
  /** Cap of each stream's captured output, bytes. */
  readonly maxOutputBytes: number;
  /** Aborting kills the whole interpreter at once. */
  readonly signal?: AbortSignal;
  /** Receives output as it arrives (only the part within the cap). */
  readonly onOutput?: (stream: "stdout" | "stderr", text: string) => void;
}

/** What an execution produced. */
export interface ExecReport {
  readonly stdout: string;
  readonly stderr: string;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  /** The driver's report; undefined when the driver itself died first. */
  readonly done: DriverDone | undefined;
  /** The timeout fired (the code was interrupted, and killed if it did not stop). */
  readonly timedOut: boolean;
  /** How the driver exited, when it died during the execution. */
  readonly exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** Processes the memory limit's OOM killer took during the execution. */
  readonly oomKills: number;
  readonly durationMs: number;
}

/** One execution's bookkeeping: its output so far, which end markers have come, the driver's report, its timers. */
export class Execution {
  readonly out: Record<Stream, Collector>;
  readonly markers: Record<Stream, boolean> = { stdout: false, stderr: false };
  readonly started = performance.now();
  done: DriverDone | undefined;
  timedOut = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly seq: number,
    readonly request: ExecRequest,
    private readonly oomBefore: number,
    private readonly resolve: (report: ExecReport) => void,
    /** Listens to the request's abort signal until the execution is settled. */
    readonly onAbort: () => void,
  ) {
    this.out = { stdout: new Collector(request.maxOutputBytes), stderr: new Collector(request.maxOutputBytes) };
  }

  /** Runs `fn` after `ms` unless the execution is settled first. */
  later(ms: number, fn: () => void): void {
    this.timers.push(setTimeout(fn, ms));
  }

  /** Output within the cap is kept and passed on to the request's listener. */
  deliver(stream: Stream, text: string): void {
    const fit = this.out[stream].add(text);
    if (fit !== "") this.request.onOutput?.(stream, fit);
  }

  /** The driver has reported and both streams have passed their end marker. */
  get complete(): boolean {
    return this.done !== undefined && this.markers.stdout && this.markers.stderr;
  }

  settle(exit: ExecReport["exit"], oomKills: number): void {
    for (const t of this.timers) clearTimeout(t);
    this.request.signal?.removeEventListener("abort", this.onAbort);
    this.resolve({
      stdout: this.out.stdout.text,
      stderr: this.out.stderr.text,
      stdoutTruncated: this.out.stdout.truncated,
      stderrTruncated: this.out.stderr.truncated,
      done: this.done,
      timedOut: this.timedOut,
      exit,
      oomKills: oomKills - this.oomBefore,
      durationMs: performance.now() - this.started,
    });
  }
}
