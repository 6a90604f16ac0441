import { bwrapStatus } from "../../server/sandbox/bwrap.js";
import { cgroupSupport } from "../../server/sandbox/cgroup.js";
import { tasksOfUid } from "../../server/sandbox/identity.js";
import { Sandbox, SandboxUnavailableError, unsandboxedAllowed } from "../../server/sandbox/sandbox.js";
import type { InterpreterLimits } from "./driver-launch.js";
import type { ExecReport, ExecRequest } from "./execution.js";
import { resolvePython } from "./identity.js";
import { Interpreter } from "./interpreter.js";
import { chooseIdentity, hostPlace, type Place, sandboxPlace } from "./sandbox-place.js";

/** Limits and settings of the coding sandbox; every field has a default. */
export interface SandboxOptions {
  /** The Python interpreter: a path, or a name looked up on PATH. Default `OPENENV_CODING_PYTHON`, then `python3`. */
  readonly python?: string;
  /**
   * Memory, MiB: of each process (RLIMIT_AS, so a large allocation raises MemoryError and
   * the session keeps its state) and, where control groups are available, of all the
   * session's processes and files together (beyond it the kernel kills). Default 1024.
   */
  readonly memoryLimitMb?: number;
  /** CPU time of each process over its lifetime (RLIMIT_CPU), seconds. Default 600. */
  readonly cpuTimeLimitS?: number;
  /** CPU cores' worth of time the session may use at once (cgroup CPU quota). Default 1. */
  readonly cpus?: number;
  /** Processes the session may run at once, the interpreter included (cgroup pids, else RLIMIT_NPROC). Default 64. */
  readonly maxProcesses?: number;
  /** Largest file the code may write (RLIMIT_FSIZE), MiB. Default 64. */
  readonly maxFileSizeMb?: number;
  /** Open files per process (RLIMIT_NOFILE). Default 256. */
  readonly maxOpenFiles?: number;
  /** Size of the session's working directory (a private tmpfs in the sandbox), MiB. Default 256. */
  readonly workdirSizeMb?: number;
  /** Size of each of the sandbox's private /tmp, /dev/shm and /var/tmp, MiB. Default 64. */
  readonly tmpSizeMb?: number;
  /** Network access for the code. Default: the manifest's `sandbox.network` (false for the bundled coding environment). */
  readonly network?: boolean;
  /** Output kept per stream per step, bytes; the rest is dropped and the observation says so. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** After interrupting timed-out code, how long it has to stop before the interpreter is killed, ms. Default 1000. */
  readonly interruptGraceMs?: number;
  /** How long the interpreter may take to start, ms. Default 15000. */
  readonly startupTimeoutMs?: number;
  /**
   * `"bwrap"` (default): every session in a bubblewrap sandbox ({@link Sandbox}); where none
   * can be made, sessions are refused unless the operator allowed unsandboxed code
   * (`openenv serve --unsafe-no-sandbox`). `"none"`: no sandbox, only rlimits, a working
   * directory and (as root) a uid per session: for trusted code only.
   */
  readonly sandbox?: "bwrap" | "none";
  /** Unsandboxed only: where session working directories are created. Default the OS temp directory. */
  readonly workdirParent?: string;
  /** Extra environment variables for the interpreter (nothing of the server's environment is passed otherwise). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Who the interpreter runs as. `"auto"` (default): when the server runs as root, a uid
   * of the session's own from `uidRange`; otherwise the server's user. `"self"`: always
   * the server's user. `{ uid, gid }`: that user.
   */
  readonly runAs?: "auto" | "self" | { readonly uid: number; readonly gid: number };
  /** Uids for per-session users (inclusive). Default 61000–64999. */
  readonly uidRange?: readonly [number, number];
}

const MiB = 1024 * 1024;

/** The result of running code in the sandbox. */
export interface SandboxRun {
  readonly report: ExecReport;
  /** The interpreter died (or was killed) before or during the run; a fresh one replaces it. */
  readonly restarted: boolean;
  /** The whole sandbox was replaced (its files are gone too). */
  readonly sandboxReplaced: boolean;
}

/**
 * A session's sandbox: a persistent interpreter in a bubblewrap sandbox of its own
 * (or, unsafe, in a working directory with rlimits), replaced when it dies. Closing
 * it kills every process it started and removes its files.
 */
export class PythonSandbox {
  /** Times the interpreter was replaced after dying. */
  restarts = 0;
  private interpreter: Interpreter | undefined;
  private starting: Promise<Interpreter> | undefined;
  private closed = false;
  private lostSandbox = false;

  private constructor(
    private place: Place,
    readonly python: string,
    private readonly options: SandboxOptions,
    private readonly seed: bigint | undefined,
  ) {}

  /** Prepares the session's place and starts the interpreter. */
  static async create(options: SandboxOptions, seed: bigint | undefined): Promise<PythonSandbox> {
    const mode = options.sandbox ?? "bwrap";
    const status = bwrapStatus();
    if (mode === "bwrap" && !status.works && !unsandboxedAllowed()) {
      throw new SandboxUnavailableError(
        `${status.problem}: the coding environment does not run untrusted code without a sandbox; install bubblewrap, or start the server with --unsafe-no-sandbox`,
      );
    }
    const sandboxed = mode === "bwrap" && status.works;
    if (sandboxed && options.runAs === "self" && process.getuid?.() === 0) {
      throw new Error(
        "runAs 'self' would run the sandbox as root: give the coding environment runAs 'auto' (a uid per session) or a { uid, gid }",
      );
    }
    const identity = sandboxed ? undefined : chooseIdentity(options);
    const python = resolvePython(
      options.python ?? process.env.OPENENV_CODING_PYTHON ?? "python3",
      sandboxed ? process.getuid?.() === 0 : identity !== undefined,
    );
    const place = sandboxed ? await sandboxPlace(python, options) : await hostPlace(options, identity);
    const sandbox = new PythonSandbox(place, python, options, seed);
    try {
      await sandbox.ensure();
    } catch (err) {
      await place.close();
      throw err;
    }
    return sandbox;
  }

  /** The working directory as the code sees it. */
  get workdir(): string {
    return this.place.workdir;
  }

  /** The uid the code runs as, when it has one of its own (as root). */
  get uid(): number | undefined {
    return this.place.identity?.uid;
  }

  /** Host pid of the sandbox's outer process (or, unsandboxed, of the driver); -1 when none runs. */
  get pid(): number {
    return this.interpreter?.alive ? this.interpreter.pid : -1;
  }

  /** Version of the interpreter, e.g. "3.11.7". */
  get version(): string {
    return this.interpreter?.version ?? "";
  }

  /** Whether the code runs in a bubblewrap sandbox. */
  get sandboxed(): boolean {
    return this.place.sandboxed;
  }

  /** Runs code in the interpreter, replacing the driver first if it died. */
  async run(request: ExecRequest): Promise<SandboxRun> {
    const interpreter = await this.ensure();
    const replaced = this.lostSandbox;
    this.lostSandbox = false;
    const report = await interpreter.exec(request);
    const kernelRestarted = report.done?.restarted === true;
    if (kernelRestarted) this.restarts++;
    if (interpreter.alive) return { report, restarted: kernelRestarted || replaced, sandboxReplaced: replaced };
    // The driver itself died (or was killed as untrustworthy): the sandbox goes with it; start anew in the background.
    this.restarts++;
    this.interpreter = undefined;
    this.starting = this.replacePlace().then(() => this.startInterpreter());
    this.starting.catch(() => {});
    return { report, restarted: true, sandboxReplaced: true };
  }

  /** Names defined in the interpreter's globals. */
  async names(): Promise<string[]> {
    const interpreter = this.interpreter;
    return interpreter?.alive ? interpreter.names() : [];
  }

  /** Kills every process of the sandbox and removes its files. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const current = this.interpreter ?? (await this.starting?.catch(() => undefined));
    await current?.kill();
    await this.place.close();
  }

  private async ensure(): Promise<Interpreter> {
    if (this.interpreter?.alive) return this.interpreter;
    if (this.interpreter !== undefined) {
      // Died between runs: everything of the old place goes, files included.
      this.interpreter = undefined;
      this.restarts++;
      this.starting ??= this.replacePlace().then(() => this.startInterpreter());
    }
    this.starting ??= this.startInterpreter();
    try {
      return await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  private async replacePlace(): Promise<void> {
    const old = this.place;
    await old.close();
    if (this.closed) throw new Error("the sandbox is closed");
    this.place = old.sandboxed
      ? await sandboxPlace(this.python, this.options)
      : await hostPlace(this.options, chooseIdentity(this.options));
    this.lostSandbox = true;
  }

  private async startInterpreter(): Promise<Interpreter> {
    if (this.closed) throw new Error("the sandbox is closed");
    const o = this.options;
    const place = this.place;
    const identity = place.identity;
    const maxProcesses = o.maxProcesses ?? 64;
    const cgroupPids = place.sandboxed && cgroupSupport().controllers.includes("pids");
    const limits: InterpreterLimits = {
      memoryBytes: (o.memoryLimitMb ?? 1024) * MiB,
      cpuSeconds: o.cpuTimeLimitS ?? 600,
      // RLIMIT_NPROC counts every process of the real uid: with a shared uid, the budget is on top of what already runs.
      maxProcesses: cgroupPids
        ? undefined
        : identity?.exclusive || (place.sandboxed && process.getuid?.() === 0)
          ? maxProcesses
          : tasksOfUid(process.getuid?.() ?? 0) + maxProcesses,
      maxFileBytes: (o.maxFileSizeMb ?? 64) * MiB,
      maxOpenFiles: o.maxOpenFiles ?? 256,
    };
    const interpreter = await Interpreter.start({
      launch: (argv) => place.launch(argv, interpreterEnv(o, place.workdir, place.sandboxed ? "/tmp" : place.workdir, this.seed)),
      python: this.python,
      workdir: place.workdir,
      limits,
      killAll: place.sandboxed || identity?.exclusive === true,
      watchdog: !place.sandboxed,
      seed: this.seed,
      startupTimeoutMs: o.startupTimeoutMs ?? 15_000,
    });
    if (this.closed) {
      await interpreter.kill();
      throw new Error("the sandbox is closed");
    }
    this.interpreter = interpreter;
    return interpreter;
  }
}

/** The interpreter's environment (nothing of the server's is passed). */
function interpreterEnv(options: SandboxOptions, home: string, tmp: string, seed?: bigint): Record<string, string> {
  return {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    TMPDIR: tmp,
    LANG: "C.UTF-8",
    PYTHONIOENCODING: "utf-8",
    PYTHONUNBUFFERED: "1",
    PYTHONDONTWRITEBYTECODE: "1",
    ...(seed === undefined ? {} : { PYTHONHASHSEED: String(seed % 4294967296n) }),
    ...options.env,
  };
}
