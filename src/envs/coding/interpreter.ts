import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { SandboxIdentity } from "./identity.js";
import { OutputCapture } from "./output-capture.js";

/** Resource limits applied to the interpreter (and inherited by its subprocesses) with setrlimit. */
export interface InterpreterLimits {
  /** RLIMIT_AS: address space of each process, bytes. */
  readonly memoryBytes?: number;
  /** RLIMIT_CPU: CPU seconds of each process over its lifetime. */
  readonly cpuSeconds?: number;
  /** RLIMIT_NPROC: processes (threads) of the interpreter's user. */
  readonly maxProcesses?: number;
  /** RLIMIT_FSIZE: largest file a process may write, bytes. */
  readonly maxFileBytes?: number;
  /** RLIMIT_NOFILE: open file descriptors per process. */
  readonly maxOpenFiles?: number;
}

/** How to start an interpreter. */
export interface InterpreterConfig {
  readonly python: string;
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly identity: SandboxIdentity | undefined;
  readonly limits: InterpreterLimits;
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

/** The driver's report of a finished execution. */
export interface DriverDone {
  readonly seq: number;
  readonly exit_code: number;
  readonly error_name: string;
  readonly error_message: string;
  readonly result: string;
  readonly interrupted: boolean;
  readonly tests: DriverTestResult[];
  readonly markers: [boolean, boolean];
}

/** One execution request. */
export interface ExecRequest {
  readonly code: string;
  readonly tests: readonly DriverTest[];
  readonly timeoutMs: number;
  /** After an interrupt at the timeout, how long the code has to stop before the interpreter is killed. */
  readonly interruptGraceMs: number;
  /** Cap of each stream's captured output, bytes. */
  readonly maxOutputBytes: number;
  /** Aborting kills the interpreter at once. */
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
  /** The driver's report; undefined when the interpreter died first. */
  readonly done: DriverDone | undefined;
  /** The timeout fired (the code was interrupted, and killed if it did not stop). */
  readonly timedOut: boolean;
  /** How the interpreter exited, when it died during the execution. */
  readonly exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  readonly durationMs: number;
}

type Stream = "stdout" | "stderr";

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
 * runs it, so the process table shows a short command line, not the driver.
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
  "exec(compile(_read(struct.unpack('>I', _read(4))[0]), 'openenv-coding-driver', 'exec'))",
].join("\n");

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

/**
 * One `python3` child running the driver: a persistent interpreter in its
 * own process group, with its own working directory, limits and (as root)
 * user. Executes code one request at a time.
 */
export class Interpreter {
  /** The interpreter's pid, which is also its process group id. */
  readonly pid: number;
  /** Python version, e.g. "3.11.7". */
  version = "";
  /** Set once the process has exited. */
  exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly child: ChildProcess;
  private readonly control: Writable;
  private readonly token = randomBytes(16).toString("hex");
  private readonly captures: Record<Stream, OutputCapture> = { stdout: new OutputCapture(), stderr: new OutputCapture() };
  private readonly background: Record<Stream, Collector> = { stdout: new Collector(backgroundCap), stderr: new Collector(backgroundCap) };
  private frames: Buffer = Buffer.alloc(0);
  private seq = 0;
  private running: Running | undefined;
  private readonly waiters = new Map<string, (event: Record<string, unknown>) => void>();
  private readonly closed: Promise<void>;
  private readonly exited: Promise<void>;

  private constructor(private readonly config: InterpreterConfig) {
    const identity = config.identity;
    this.child = spawn(config.python, ["-u", "-c", bootstrap, "openenv-coding-driver"], {
      cwd: config.workdir,
      env: config.env,
      // 3: commands, 4: events, 5: held open so the watchdog sees the server die.
      stdio: ["ignore", "pipe", "pipe", "pipe", "pipe", "pipe"],
      detached: true, // setsid: a process group (and session) of its own
      uid: identity?.uid,
      gid: identity?.gid,
    });
    if (this.child.pid === undefined) {
      // spawn failed synchronously-ish (ENOENT, EACCES); the 'error' event says why.
      this.pid = -1;
    } else {
      this.pid = this.child.pid;
    }
    this.control = this.child.stdio[3] as Writable;
    this.control.on("error", () => {}); // EPIPE when the driver died: handled by 'exit'
    const events = this.child.stdio[4] as Readable;
    events.on("data", (chunk: Buffer) => this.onFrames(chunk));
    const stdio = this.child.stdio as unknown as (Readable | Writable | null)[];
    stdio[5]?.on("error", () => {});
    for (const stream of ["stdout", "stderr"] as const) {
      const pipe = this.child[stream] as Readable;
      pipe.on("data", (chunk: Buffer) => this.onOutput(stream, this.captures[stream].push(chunk)));
    }
    this.closed = new Promise((resolve) => this.child.once("close", () => resolve()));
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    this.child.on("exit", (code, signal) => this.onExit(code, signal));
  }

  /** Starts an interpreter and waits until the driver is ready. */
  static async start(config: InterpreterConfig): Promise<Interpreter> {
    const interpreter = new Interpreter(config);
    try {
      await interpreter.handshake();
    } catch (err) {
      await interpreter.kill();
      throw err;
    }
    return interpreter;
  }

  /** The process is running. */
  get alive(): boolean {
    return this.exitInfo === undefined;
  }

  private handshake(): Promise<void> {
    const { limits, identity, seed } = this.config;
    return new Promise<void>((resolve, reject) => {
      const fail = (message: string): void => {
        cleanup();
        reject(new Error(message));
      };
      const timer = setTimeout(
        () => fail(`the Python interpreter did not start within ${this.config.startupTimeoutMs} ms`),
        this.config.startupTimeoutMs,
      );
      const onError = (err: Error): void => fail(`cannot start ${this.config.python}: ${err.message}`);
      const onExit = (): void => fail(`${this.config.python} exited during startup (${describeExit(this.exitInfo)})`);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.child.off("error", onError);
        this.child.off("exit", onExit);
        this.waiters.delete("ready");
        this.waiters.delete("fatal");
      };
      this.child.once("error", onError);
      this.child.once("exit", onExit);
      this.waiters.set("ready", (event) => {
        cleanup();
        this.version = String(event.version ?? "");
        resolve();
      });
      this.waiters.set("fatal", (event) => fail(String(event.message)));
      this.sendRaw(Buffer.from(loadDriver(), "utf8"));
      this.send({
        op: "init",
        token: this.token,
        seed: seed === undefined ? null : Number(seed % 2n ** 52n),
        kill_all_of_uid: identity?.exclusive === true,
        workdir: this.config.workdir,
        memory_bytes: limits.memoryBytes ?? null,
        cpu_seconds: limits.cpuSeconds ?? null,
        max_processes: limits.maxProcesses ?? null,
        max_file_bytes: limits.maxFileBytes ?? null,
        max_open_files: limits.maxOpenFiles ?? null,
      });
    });
  }

  /** Runs code (then tests); resolves when the driver reports, the interpreter dies, or it is killed after the timeout. */
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
      running.timers.push(
        setTimeout(() => {
          running.timedOut = true;
          this.signalGroup("SIGINT");
          running.timers.push(setTimeout(() => void this.kill(), request.interruptGraceMs));
        }, request.timeoutMs),
      );
      this.send({ op: "exec", seq, code: request.code, tests: request.tests });
    });
  }

  /** Names defined in the interpreter's globals; empty when it is busy, dead or slow to answer. */
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
        resolve(Array.isArray(event.names) ? event.names.map(String) : []);
      });
      this.send({ op: "names" });
    });
  }

  /**
   * Kills the interpreter's whole process group and waits for the interpreter
   * to exit (not for its pipes to close: a process that left the group may
   * hold them until the uid cleanup kills it).
   */
  async kill(): Promise<void> {
    this.signalGroup("SIGKILL");
    if (this.child.exitCode === null && this.child.signalCode === null && this.pid > 0) {
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2_000))]);
    }
  }

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.pid <= 0) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // the group is already empty
    }
  }

  private send(message: Record<string, unknown>): void {
    this.sendRaw(Buffer.from(JSON.stringify(message), "utf8"));
  }

  private sendRaw(body: Buffer): void {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    this.control.write(Buffer.concat([head, body]));
  }

  private onFrames(chunk: Buffer): void {
    this.frames = this.frames.length === 0 ? chunk : Buffer.concat([this.frames, chunk]);
    while (this.frames.length >= 4) {
      const size = this.frames.readUInt32BE(0);
      if (this.frames.length < 4 + size) break;
      const body = this.frames.subarray(4, 4 + size);
      this.frames = this.frames.subarray(4 + size);
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      } catch {
        // A corrupted control channel (user code wrote to it): the interpreter cannot be trusted.
        void this.kill();
        return;
      }
      this.onEvent(event);
    }
  }

  private onEvent(event: Record<string, unknown>): void {
    const kind = String(event.ev);
    if (kind === "done") {
      const running = this.running;
      if (running === undefined || event.seq !== running.seq) return;
      const done = event as unknown as DriverDone;
      running.done = done;
      // A stream whose marker could not be written (user code closed it) has nothing more to wait for.
      if (!done.markers[0]) running.markers.stdout = true;
      if (!done.markers[1]) running.markers.stderr = true;
      // Output before the marker is at most one pipe buffer behind the event; do not wait forever if the marker was lost.
      running.timers.push(setTimeout(() => this.finish(running), 1_000));
      this.maybeFinish(running);
      return;
    }
    this.waiters.get(kind)?.(event);
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
      durationMs: performance.now() - running.started,
    });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exitInfo = { code, signal };
    // Whatever the driver started dies with it.
    this.signalGroup("SIGKILL");
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
