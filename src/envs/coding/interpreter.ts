import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { encodeFrame, FrameError, FrameReader } from "../../server/sandbox/frames.js";
import { OutputCapture } from "./output-capture.js";

/** Resource limits the interpreter applies to itself (and what it starts) with setrlimit. */
export interface InterpreterLimits {
  /** RLIMIT_AS: address space of each process, bytes. */
  readonly memoryBytes?: number;
  /** RLIMIT_CPU: CPU seconds of each process over its lifetime. */
  readonly cpuSeconds?: number;
  /** RLIMIT_NPROC: processes (threads) of the interpreter's user; unset where a control group counts them. */
  readonly maxProcesses?: number;
  /** RLIMIT_FSIZE: largest file a process may write, bytes. */
  readonly maxFileBytes?: number;
  /** RLIMIT_NOFILE: open file descriptors per process. */
  readonly maxOpenFiles?: number;
}

/** The driver's supervisor process, started by a launcher (in a sandbox, or as a plain process). */
export interface DriverProcess {
  /** stdio: 1 and 2 the output pipes, 3 commands, 4 events (5, unsandboxed, the watchdog's pipe). */
  readonly child: ChildProcess;
  /** Host pid to report (the sandbox's outer process, or the supervisor). */
  readonly pid: number;
  /** Kills everything the driver started, and the driver. */
  kill(): Promise<void>;
  /** Processes the memory limit's OOM killer took, where a control group counts them. */
  oomKills(): number;
}

/** How to start an interpreter. */
export interface InterpreterConfig {
  /** Starts the supervisor with the given argv (the interpreter, then its arguments). */
  readonly launch: (argv: readonly string[]) => Promise<DriverProcess>;
  readonly python: string;
  /** Working directory as the driver sees it. */
  readonly workdir: string;
  readonly limits: InterpreterLimits;
  /** The driver may kill every process it can signal (it is alone in its namespace or uid). */
  readonly killAll: boolean;
  /** Unsandboxed: a watchdog process cleans up if the server dies. */
  readonly watchdog: boolean;
  /** Seeds `random` (and string hashing, through the environment). */
  readonly seed: bigint | undefined;
  readonly startupTimeoutMs: number;
}

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

type Stream = "stdout" | "stderr";

/** Largest event frame from the driver: a done event of 256 tests with 64 KiB of output each fits. */
const maxEventBytes = 32 * 1024 * 1024;
/** After the kill request, how long the driver has to report before the whole sandbox is killed. */
const killGraceMs = 3_000;

/** Collects one stream's output of one execution, up to a cap. */
class Collector {
  text = "";
  bytes = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  /** Adds text; returns the part that fit under the cap. */
  add(text: string): string {
    if (this.truncated) return "";
    const size = Buffer.byteLength(text);
    if (this.bytes + size <= this.cap) {
      this.bytes += size;
      this.text += text;
      return text;
    }
    const fit = Buffer.from(text)
      .subarray(0, this.cap - this.bytes)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    this.text += fit;
    this.bytes = this.cap;
    this.truncated = true;
    return fit;
  }
}

interface Running {
  readonly seq: number;
  readonly request: ExecRequest;
  readonly out: Record<Stream, Collector>;
  readonly markers: Record<Stream, boolean>;
  readonly started: number;
  readonly oomBefore: number;
  done: DriverDone | undefined;
  timedOut: boolean;
  readonly timers: NodeJS.Timeout[];
  readonly resolve: (report: ExecReport) => void;
  readonly onAbort: () => void;
}

/** Output written between executions (e.g. by a background thread), given to the next one. */
const backgroundCap = 64 * 1024;

let driverSource: string | undefined;

/**
 * The `-c` program: reads the driver's source as the first frame on fd 3 and
 * runs it as the supervisor, so the process table shows a short command line.
 */
const bootstrap = [
  "import os, struct",
  "def _read(n):",
  "    b = b''",
  "    while len(b) < n:",
  "        c = os.read(3, n - len(b))",
  "        if not c: os._exit(2)",
  "        b += c",
  "    return b",
  "_src = _read(struct.unpack('>I', _read(4))[0])",
  "exec(compile(_src, 'openenv-coding-driver', 'exec'), {'__name__': 'openenv_coding_driver', 'ROLE': 'supervisor', 'SOURCE': _src})",
].join("\n");

/** The argv of the supervisor, after the interpreter's path. */
export const driverArgs = ["-u", "-c", bootstrap, "openenv-coding-supervisor"];

/** The driver script's source: next to this module, or under src/ when running from a build. */
function loadDriver(): string {
  if (driverSource !== undefined) return driverSource;
  const candidates = [new URL("./driver.py", import.meta.url), new URL("../../../../src/envs/coding/driver.py", import.meta.url)];
  for (const url of candidates) {
    try {
      driverSource = fs.readFileSync(fileURLToPath(url), "utf8");
      return driverSource;
    } catch {
      // try the next location
    }
  }
  throw new Error("cannot find the coding environment's driver.py");
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isText = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;

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

/**
 * The driver of one session: a supervisor process (in the session's sandbox)
 * that runs a persistent Python kernel and the tests. Executes code one
 * request at a time; its event channel is parsed as hostile input.
 */
export class Interpreter {
  /** Python version, e.g. "3.11.7". */
  version = "";
  /** Set once the driver has exited. */
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Why the driver was killed as untrustworthy, if it was. */
  corrupted: string | undefined;
  private readonly control: Writable;
  private readonly token = randomBytes(16).toString("hex");
  private readonly captures: Record<Stream, OutputCapture> = { stdout: new OutputCapture(), stderr: new OutputCapture() };
  private readonly background: Record<Stream, Collector> = { stdout: new Collector(backgroundCap), stderr: new Collector(backgroundCap) };
  private readonly frames = new FrameReader(maxEventBytes);
  private seq = 0;
  private running: Running | undefined;
  private readonly waiters = new Map<string, (event: Record<string, unknown>) => void>();
  private readonly closed: Promise<void>;
  private readonly exited: Promise<void>;
  private readonly child: ChildProcess;

  private constructor(
    private readonly config: InterpreterConfig,
    private readonly driver: DriverProcess,
  ) {
    const child = driver.child;
    this.child = child;
    this.control = child.stdio[3] as Writable;
    this.control.on("error", () => {}); // EPIPE when the driver died: handled by 'exit'
    const events = child.stdio[4] as Readable;
    events.on("data", (chunk: Buffer) => this.onFrames(chunk));
    events.on("error", () => {});
    const stdio = child.stdio as unknown as (Readable | Writable | null)[];
    stdio[0]?.on("error", () => {});
    stdio[5]?.on("error", () => {});
    for (const stream of ["stdout", "stderr"] as const) {
      const pipe = child[stream] as Readable;
      pipe.on("data", (chunk: Buffer) => this.onOutput(stream, this.captures[stream].push(chunk)));
      pipe.on("error", () => {});
    }
    this.closed = new Promise((resolve) => child.once("close", () => resolve()));
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    if (child.exitCode !== null || child.signalCode !== null) this.onExit(child.exitCode, child.signalCode);
    else child.on("exit", (code, signal) => this.onExit(code, signal));
  }

  /** Starts an interpreter and waits until the driver is ready. */
  static async start(config: InterpreterConfig): Promise<Interpreter> {
    const driver = await config.launch([config.python, ...driverArgs]);
    const interpreter = new Interpreter(config, driver);
    try {
      await interpreter.handshake();
    } catch (err) {
      await interpreter.kill();
      throw err;
    }
    return interpreter;
  }

  /** Host pid of the driver (or of its sandbox). */
  get pid(): number {
    return this.driver.pid;
  }

  /** The driver is running. */
  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  private handshake(): Promise<void> {
    const { limits, seed, python } = this.config;
    return new Promise<void>((resolve, reject) => {
      const fail = (message: string): void => {
        cleanup();
        reject(new Error(message));
      };
      const timer = setTimeout(
        () => fail(`the Python interpreter did not start within ${this.config.startupTimeoutMs} ms`),
        this.config.startupTimeoutMs,
      );
      const onError = (err: Error): void => fail(`cannot start ${python}: ${err.message}`);
      const onExit = (): void => fail(`${python} exited during startup (${describeExit(this.exitInfo)})`);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off("error", onError);
        this.child.off("exit", onExit);
        this.waiters.delete("ready");
        this.waiters.delete("fatal");
      };
      this.child.once("error", onError);
      if (!this.alive) {
        onExit();
        return;
      }
      this.child.once("exit", onExit);
      this.waiters.set("ready", (event) => {
        cleanup();
        this.version = isText(event.version, 40) ? event.version : "";
        resolve();
      });
      this.waiters.set("fatal", (event) => fail(isText(event.message, 10_000) ? event.message : "the driver failed to start"));
      this.sendRaw(Buffer.from(loadDriver(), "utf8"));
      this.send({
        op: "init",
        token: this.token,
        seed: seed === undefined ? null : Number(seed % 2n ** 52n),
        kill_all: this.config.killAll,
        watchdog: this.config.watchdog,
        workdir: this.config.workdir,
        memory_bytes: limits.memoryBytes ?? null,
        cpu_seconds: limits.cpuSeconds ?? null,
        max_processes: limits.maxProcesses ?? null,
        max_file_bytes: limits.maxFileBytes ?? null,
        max_open_files: limits.maxOpenFiles ?? null,
      });
    });
  }

  /** Runs code (then tests); resolves when the driver reports, or dies, or is killed after the timeout. */
  exec(request: ExecRequest): Promise<ExecReport> {
    if (this.running !== undefined) return Promise.reject(new Error("the interpreter is busy"));
    if (!this.alive) return Promise.reject(new Error("the interpreter has exited"));
    const seq = ++this.seq;
    const marker = Buffer.from(`\x00OPENENV-END:${this.token}:${seq}\x00`);
    this.captures.stdout.expect(marker);
    this.captures.stderr.expect(marker);
    return new Promise<ExecReport>((resolve) => {
      const onAbort = (): void => void this.kill();
      const running: Running = {
        seq,
        request,
        out: { stdout: new Collector(request.maxOutputBytes), stderr: new Collector(request.maxOutputBytes) },
        markers: { stdout: false, stderr: false },
        started: performance.now(),
        oomBefore: this.driver.oomKills(),
        done: undefined,
        timedOut: false,
        timers: [],
        resolve,
        onAbort,
      };
      this.running = running;
      for (const stream of ["stdout", "stderr"] as const) {
        const early = this.background[stream];
        if (early.text !== "") this.deliver(running, stream, early.text);
        this.background[stream] = new Collector(backgroundCap);
      }
      if (request.signal?.aborted) {
        void this.kill();
      } else {
        request.signal?.addEventListener("abort", onAbort, { once: true });
      }
      const later = (ms: number, fn: () => void): void => {
        running.timers.push(setTimeout(fn, ms));
      };
      // Interrupt at the timeout; kill the kernel when it does not stop; kill everything when the driver does not answer.
      later(request.timeoutMs, () => {
        running.timedOut = true;
        this.send({ op: "interrupt" });
        later(request.interruptGraceMs, () => {
          this.send({ op: "kill" });
          later(killGraceMs, () => void this.kill());
        });
      });
      this.send({ op: "exec", seq, code: request.code, tests: request.tests });
    });
  }

  /** Names defined in the kernel's globals; empty when it is busy, dead or slow to answer. */
  async names(timeoutMs = 5_000): Promise<string[]> {
    if (this.running !== undefined || !this.alive) return [];
    return new Promise<string[]>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete("names");
        resolve([]);
      }, timeoutMs);
      this.waiters.set("names", (event) => {
        clearTimeout(timer);
        this.waiters.delete("names");
        const names = Array.isArray(event.names) ? event.names.filter((n): n is string => isText(n, 1_000)) : [];
        resolve(names);
      });
      this.send({ op: "names" });
    });
  }

  /** Kills the driver and everything it started, and waits for the driver to exit. */
  async kill(): Promise<void> {
    await this.driver.kill();
    if (this.alive) await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2_000))]);
  }

  private send(message: Record<string, unknown>): void {
    this.sendRaw(Buffer.from(JSON.stringify(message), "utf8"));
  }

  private sendRaw(body: Buffer): void {
    if (!this.control.writable) return;
    this.control.write(encodeFrame(body));
  }

  /** The driver broke the protocol: it is not trusted with the session any more. */
  private corrupt(why: string): void {
    if (this.corrupted !== undefined) return;
    this.corrupted = why;
    void this.kill();
  }

  private onFrames(chunk: Buffer): void {
    if (this.corrupted !== undefined) return;
    let bodies: Buffer[];
    try {
      bodies = this.frames.push(chunk);
    } catch (err) {
      this.corrupt(err instanceof FrameError ? `the driver sent ${err.message}` : String(err));
      return;
    }
    for (const body of bodies) {
      let event: unknown;
      try {
        event = JSON.parse(body.toString("utf8"));
      } catch {
        this.corrupt("the driver sent a frame that is not JSON");
        return;
      }
      if (!isRecord(event) || typeof event.ev !== "string") {
        this.corrupt("the driver sent a frame that is not an event");
        return;
      }
      this.onEvent(event);
      if (this.corrupted !== undefined) return;
    }
  }

  private onEvent(event: Record<string, unknown>): void {
    if (event.ev === "done") {
      const done = parseDone(event);
      if (done === undefined) {
        this.corrupt("the driver sent a malformed done event");
        return;
      }
      const running = this.running;
      if (running === undefined || done.seq !== running.seq || running.done !== undefined) return;
      running.done = done;
      // Output before the marker is at most one pipe buffer behind the event; do not wait forever if a marker was lost.
      running.timers.push(setTimeout(() => this.finish(running), 1_000));
      this.maybeFinish(running);
      return;
    }
    this.waiters.get(event.ev as string)?.(event);
  }

  private onOutput(stream: Stream, events: ReturnType<OutputCapture["push"]>): void {
    for (const e of events) {
      const running = this.running;
      if (e.kind === "marker") {
        if (running !== undefined) {
          running.markers[stream] = true;
          this.maybeFinish(running);
        }
      } else if (running !== undefined && !running.markers[stream]) {
        this.deliver(running, stream, e.text);
      } else {
        this.background[stream].add(e.text);
      }
    }
  }

  private deliver(running: Running, stream: Stream, text: string): void {
    const fit = running.out[stream].add(text);
    if (fit !== "") running.request.onOutput?.(stream, fit);
  }

  private maybeFinish(running: Running): void {
    if (running.done !== undefined && running.markers.stdout && running.markers.stderr) this.finish(running);
  }

  private finish(running: Running): void {
    if (this.running !== running) return;
    this.running = undefined;
    for (const t of running.timers) clearTimeout(t);
    running.request.signal?.removeEventListener("abort", running.onAbort);
    running.resolve({
      stdout: running.out.stdout.text,
      stderr: running.out.stderr.text,
      stdoutTruncated: running.out.stdout.truncated,
      stderrTruncated: running.out.stderr.truncated,
      done: running.done,
      timedOut: running.timedOut,
      exit: this.exitInfo,
      oomKills: this.driver.oomKills() - running.oomBefore,
      durationMs: performance.now() - running.started,
    });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exitInfo = { code, signal };
    // Whatever the driver started dies with it.
    void this.driver.kill();
    const running = this.running;
    if (running === undefined) return;
    // Let the pipes drain (bounded: an escaped process could hold them open).
    void Promise.race([this.closed, new Promise((r) => setTimeout(r, 500))]).then(() => {
      for (const stream of ["stdout", "stderr"] as const) this.onOutput(stream, this.captures[stream].flush());
      this.finish(running);
    });
  }
}

/** "exit code 3", "signal SIGKILL". */
export function describeExit(info: { code: number | null; signal: NodeJS.Signals | null } | undefined): string {
  if (info === undefined) return "still running";
  return info.signal !== null ? `signal ${info.signal}` : `exit code ${info.code}`;
}
