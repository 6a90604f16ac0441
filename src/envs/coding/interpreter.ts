import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { encodeFrame, FrameError } from "../../server/sandbox/frames.js";
import { EventReader, isText, parseDone } from "./driver-events.js";
import { type DriverProcess, describeExit, driverArgs, type InterpreterLimits, loadDriver } from "./driver-launch.js";
import { type ExecReport, type ExecRequest, Execution, type Stream } from "./execution.js";
import { Collector, OutputCapture } from "./output-capture.js";

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

/** After the kill request, how long the driver has to report before the whole sandbox is killed. */
const killGraceMs = 3_000;

/** Output written between executions (e.g. by a background thread), given to the next one. */
const backgroundCap = 64 * 1024;

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
  private readonly events = new EventReader();
  private seq = 0;
  private running: Execution | undefined;
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
      const running = new Execution(seq, request, this.driver.oomKills(), resolve, onAbort);
      this.running = running;
      for (const stream of ["stdout", "stderr"] as const) {
        const early = this.background[stream];
        if (early.text !== "") running.deliver(stream, early.text);
        this.background[stream] = new Collector(backgroundCap);
      }
      if (request.signal?.aborted) {
        void this.kill();
      } else {
        request.signal?.addEventListener("abort", onAbort, { once: true });
      }
      // Interrupt at the timeout; kill the kernel when it does not stop; kill everything when the driver does not answer.
      running.later(request.timeoutMs, () => {
        running.timedOut = true;
        this.send({ op: "interrupt" });
        running.later(request.interruptGraceMs, () => {
          this.send({ op: "kill" });
          running.later(killGraceMs, () => void this.kill());
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
    const events = this.events.push(chunk);
    for (;;) {
      let next: IteratorResult<Record<string, unknown> & { ev: string }>;
      try {
        next = events.next();
      } catch (err) {
        this.corrupt(err instanceof FrameError ? `the driver sent ${err.message}` : err instanceof Error ? err.message : String(err));
        return;
      }
      if (next.done === true) return;
      this.onEvent(next.value);
      if (this.corrupted !== undefined) return;
    }
  }

  private onEvent(event: Record<string, unknown> & { ev: string }): void {
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
      running.later(1_000, () => this.finish(running));
      this.maybeFinish(running);
      return;
    }
    this.waiters.get(event.ev)?.(event);
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
        running.deliver(stream, e.text);
      } else {
        this.background[stream].add(e.text);
      }
    }
  }

  private maybeFinish(running: Execution): void {
    if (running.complete) this.finish(running);
  }

  private finish(running: Execution): void {
    if (this.running !== running) return;
    this.running = undefined;
    running.settle(this.exitInfo, this.driver.oomKills());
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
