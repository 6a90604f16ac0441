import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { allocateUid, defaultUidRange, killAllOfUid, releaseUid, resolvePython, type SandboxIdentity, tasksOfUid } from "./identity.js";
import { type ExecReport, type ExecRequest, Interpreter, type InterpreterLimits } from "./interpreter.js";

/** Limits and settings of the coding sandbox; every field has a default. */
export interface SandboxOptions {
  /** The Python interpreter: a path, or a name looked up on PATH. Default `OPENENV_CODING_PYTHON`, then `python3`. */
  readonly python?: string;
  /** Address-space limit of each process (RLIMIT_AS), MiB. Default 1024. */
  readonly memoryLimitMb?: number;
  /** CPU time of each process over its lifetime (RLIMIT_CPU), seconds. Default 600. */
  readonly cpuTimeLimitS?: number;
  /** Processes the session may run at once (RLIMIT_NPROC), the interpreter included. Default 64. */
  readonly maxProcesses?: number;
  /** Largest file the code may write (RLIMIT_FSIZE), MiB. Default 64. */
  readonly maxFileSizeMb?: number;
  /** Open files per process (RLIMIT_NOFILE). Default 256. */
  readonly maxOpenFiles?: number;
  /** Output kept per stream per step, bytes; the rest is dropped and the observation says so. Default 1 MiB. */
  readonly maxOutputBytes?: number;
  /** After interrupting timed-out code, how long it has to stop before the interpreter is killed, ms. Default 1000. */
  readonly interruptGraceMs?: number;
  /** How long the interpreter may take to start, ms. Default 15000. */
  readonly startupTimeoutMs?: number;
  /** Where session working directories are created. Default the OS temp directory. */
  readonly workdirParent?: string;
  /** Extra environment variables for the interpreter (nothing of the server's environment is passed otherwise, except PATH). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Who the interpreter runs as. `"auto"` (default): when the server runs as
   * root, a uid of the session's own from `uidRange` (so process limits are per
   * session, the code cannot touch root's files or signal the server, and
   * cleanup can kill every process of the uid); otherwise the server's user.
   * `"self"`: always the server's user. `{ uid, gid }`: that user.
   */
  readonly runAs?: "auto" | "self" | { readonly uid: number; readonly gid: number };
  /** Uids for per-session users (inclusive). Default 61000–64999. */
  readonly uidRange?: readonly [number, number];
}

const MiB = 1024 * 1024;

/** The result of running code in the sandbox. */
export interface SandboxRun {
  readonly report: ExecReport;
  /** The interpreter died (or was killed) during the run; a fresh one replaces it. */
  readonly restarted: boolean;
}

/**
 * A session's sandbox: a working directory, a user (as root) and a
 * persistent interpreter that is restarted when it dies. Closing it kills
 * every process it started and removes the directory.
 */
export class PythonSandbox {
  /** Times the interpreter was replaced after dying. */
  restarts = 0;
  private interpreter: Interpreter | undefined;
  private starting: Promise<Interpreter> | undefined;
  private closed = false;

  private constructor(
    readonly workdir: string,
    readonly identity: SandboxIdentity | undefined,
    readonly python: string,
    private readonly options: SandboxOptions,
    private readonly seed: bigint | undefined,
  ) {}

  /** Creates the working directory and starts the interpreter. */
  static async create(options: SandboxOptions, seed: bigint | undefined): Promise<PythonSandbox> {
    const identity = chooseIdentity(options);
    let workdir: string | undefined;
    try {
      const python = resolvePython(options.python ?? process.env.OPENENV_CODING_PYTHON ?? "python3", identity !== undefined);
      workdir = await fs.mkdtemp(path.join(options.workdirParent ?? os.tmpdir(), "openenv-coding-"));
      await fs.chmod(workdir, 0o700);
      if (identity !== undefined) await fs.chown(workdir, identity.uid, identity.gid);
      const sandbox = new PythonSandbox(workdir, identity, python, options, seed);
      await sandbox.ensure();
      return sandbox;
    } catch (err) {
      if (workdir !== undefined) await removeTree(workdir);
      if (identity?.exclusive) releaseUid(identity.uid);
      throw err;
    }
  }

  /** Pid of the current interpreter (its process group id); -1 when none runs. */
  get pid(): number {
    return this.interpreter?.alive ? this.interpreter.pid : -1;
  }

  /** Version of the interpreter, e.g. "3.11.7". */
  get version(): string {
    return this.interpreter?.version ?? "";
  }

  /** Runs code in the interpreter, restarting it first if it died. */
  async run(request: ExecRequest): Promise<SandboxRun> {
    // An interpreter can also die between steps (a background thread calling os._exit, the CPU limit).
    const idle = this.interpreter;
    const diedIdle = idle !== undefined && !idle.alive;
    if (diedIdle) {
      this.interpreter = undefined;
      this.restarts++;
      await this.cleanup(idle);
    }
    const interpreter = await this.ensure();
    const report = await interpreter.exec(request);
    if (interpreter.alive) return { report, restarted: diedIdle };
    this.restarts++;
    this.interpreter = undefined;
    // Clear the dead interpreter's leftovers now and start its successor in the background; errors surface on the next run.
    this.starting = this.cleanup(interpreter).then(() => this.startInterpreter());
    this.starting.catch(() => {});
    return { report, restarted: true };
  }

  /** Names defined in the interpreter's globals. */
  async names(): Promise<string[]> {
    const interpreter = this.interpreter;
    return interpreter?.alive ? interpreter.names() : [];
  }

  /** Kills every process of the sandbox and removes its working directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const starting = this.starting;
    const current = this.interpreter ?? (await starting?.catch(() => undefined));
    if (current !== undefined) await this.cleanup(current);
    else if (this.identity !== undefined) await killAllOfUid(this.python, this.identity);
    await removeTree(this.workdir);
    if (this.identity?.exclusive) releaseUid(this.identity.uid);
  }

  private async ensure(): Promise<Interpreter> {
    if (this.interpreter?.alive) return this.interpreter;
    this.starting ??= this.startInterpreter();
    try {
      return await this.starting;
    } finally {
      this.starting = undefined;
    }
  }

  private async startInterpreter(): Promise<Interpreter> {
    if (this.closed) throw new Error("the sandbox is closed");
    const o = this.options;
    const identity = this.identity;
    const maxProcesses = o.maxProcesses ?? 64;
    const limits: InterpreterLimits = {
      memoryBytes: (o.memoryLimitMb ?? 1024) * MiB,
      cpuSeconds: o.cpuTimeLimitS ?? 600,
      // RLIMIT_NPROC counts every process of the real uid: with a shared uid, the budget is on top of what already runs.
      maxProcesses: identity?.exclusive ? maxProcesses : tasksOfUid(identity?.uid ?? process.getuid?.() ?? 0) + maxProcesses,
      maxFileBytes: (o.maxFileSizeMb ?? 64) * MiB,
      maxOpenFiles: o.maxOpenFiles ?? 256,
    };
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: this.workdir,
      TMPDIR: this.workdir,
      LANG: "C.UTF-8",
      PYTHONIOENCODING: "utf-8",
      PYTHONUNBUFFERED: "1",
      PYTHONDONTWRITEBYTECODE: "1",
      ...(this.seed === undefined ? {} : { PYTHONHASHSEED: String(this.seed % 4294967296n) }),
      ...o.env,
    };
    const interpreter = await Interpreter.start({
      python: this.python,
      workdir: this.workdir,
      env,
      identity,
      limits,
      seed: this.seed,
      startupTimeoutMs: o.startupTimeoutMs ?? 15_000,
    });
    if (this.closed) {
      await this.cleanup(interpreter);
      throw new Error("the sandbox is closed");
    }
    this.interpreter = interpreter;
    return interpreter;
  }

  /** Kills an interpreter's process group and, with an exclusive uid, every process of the uid. */
  private async cleanup(interpreter: Interpreter): Promise<void> {
    await interpreter.kill();
    if (this.identity !== undefined) await killAllOfUid(this.python, this.identity);
  }
}

function chooseIdentity(options: SandboxOptions): SandboxIdentity | undefined {
  const runAs = options.runAs ?? "auto";
  if (runAs === "self") return undefined;
  if (typeof runAs === "object") return { uid: runAs.uid, gid: runAs.gid, exclusive: false };
  if (process.getuid?.() !== 0) return undefined;
  const uid = allocateUid(options.uidRange ?? defaultUidRange);
  if (uid === undefined) throw new Error("no free sandbox uid: every uid of the coding environment's uidRange is in use");
  return { uid, gid: uid, exclusive: true };
}

/** Removes a directory tree, making it writable first if the code locked parts of it. */
async function removeTree(dir: string): Promise<void> {
  try {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    await makeWritable(dir);
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 2 }).catch(() => {});
  }
}

async function makeWritable(dir: string): Promise<void> {
  await fs.chmod(dir, 0o700).catch(() => {});
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await makeWritable(path.join(dir, e.name));
}
