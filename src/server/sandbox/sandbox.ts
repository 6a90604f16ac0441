// A sandbox for untrusted code: one process tree jailed by bubblewrap, with its
// own namespaces, control group, user (as root) and private filesystems.
import { type ChildProcess, spawn } from "node:child_process";
import { bwrapArgs, bwrapStatus } from "./bwrap.js";
import { type CgroupController, cgroupSupport, SandboxCgroup } from "./cgroup.js";
import { allocateUid, defaultUidRange, releaseUid } from "./identity.js";

const MiB = 1024 * 1024;

/** Options of {@link Sandbox.start}; every field but `command` has a default. */
export interface SandboxOptions {
  /**
   * The program and its arguments. It runs inside the sandbox, so its path must
   * be in the read-only system view (/usr, /etc, `readOnlyPaths`).
   */
  readonly command: readonly string[];
  /** The whole environment of the program (nothing of the server's is passed). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * Network access: false (default) gives the sandbox a network namespace of its own
   * with nothing but a loopback interface, so it reaches neither the server's ports nor
   * the outside. Default: what {@link configureSandboxes} set (from the manifest's
   * `sandbox.network`), else false.
   */
  readonly network?: boolean;
  /** Memory of all its processes together, tmpfs files included (cgroup), MiB. Default 1024. */
  readonly memoryLimitMb?: number;
  /** Processes and threads at once (cgroup). Default 64. */
  readonly maxProcesses?: number;
  /** CPU cores' worth of time (cgroup CPU quota). Default 1. */
  readonly cpus?: number;
  /** Size of the private writable working directory, MiB. Default 256. */
  readonly workdirSizeMb?: number;
  /** Size of each of the private /tmp, /dev/shm and /var/tmp, MiB. Default 64. */
  readonly tmpSizeMb?: number;
  /** Host paths shown read-only at the same place (for a program installed outside /usr). */
  readonly readOnlyPaths?: readonly string[];
  /** Pipes beyond stdin, stdout and stderr: they are the program's descriptors 3, 4, ... Default 0. */
  readonly extraPipes?: number;
  /**
   * Who the sandbox runs as, outside its user namespace. `"auto"` (default): a uid of
   * its own from `uidRange` when the server runs as root (never root), else the
   * server's user. `{ uid, gid }`: that user.
   */
  readonly runAs?: "auto" | { readonly uid: number; readonly gid: number };
  /** Uids for per-sandbox users (inclusive). Default 61000–64999. */
  readonly uidRange?: readonly [number, number];
}

/** The working directory inside every sandbox. */
export const SANDBOX_WORKDIR = "/work";

/** A sandbox cannot be made here: bubblewrap is missing or cannot create namespaces. */
export class SandboxUnavailableError extends Error {
  override readonly name = "SandboxUnavailableError";
}

/** How sandboxes are made on this machine, for startup messages and Describe-like reports. */
export interface SandboxReport {
  readonly available: boolean;
  /** One line: "bubblewrap 0.8.0; cgroup v1 limits (memory, pids, cpu); a uid per sandbox" or the problem. */
  readonly summary: string;
}

const policy = {
  network: process.env.OPENENV_SANDBOX_NETWORK === "1",
  allowUnsandboxed: process.env.OPENENV_UNSAFE_NO_SANDBOX === "1",
};

/**
 * Process-wide sandbox settings, set by `openenv serve` from the manifest's
 * `sandbox` section and its flags (and passed on to worker processes through the
 * environment): the default of {@link SandboxOptions.network}, and whether an
 * environment may run untrusted code without a sandbox where none can be made
 * (`--unsafe-no-sandbox`).
 */
export function configureSandboxes(settings: { network?: boolean; allowUnsandboxed?: boolean }): void {
  if (settings.network !== undefined) {
    policy.network = settings.network;
    process.env.OPENENV_SANDBOX_NETWORK = settings.network ? "1" : "0";
  }
  if (settings.allowUnsandboxed !== undefined) {
    policy.allowUnsandboxed = settings.allowUnsandboxed;
    process.env.OPENENV_UNSAFE_NO_SANDBOX = settings.allowUnsandboxed ? "1" : "0";
  }
}

/** Whether the operator allowed untrusted code to run unsandboxed where no sandbox can be made. */
export function unsandboxedAllowed(): boolean {
  return policy.allowUnsandboxed;
}

/** What a sandbox on this machine isolates, or why there is none. */
export function sandboxReport(): SandboxReport {
  const bwrap = bwrapStatus();
  if (!bwrap.works) return { available: false, summary: bwrap.problem };
  const cg = cgroupSupport();
  const limits =
    cg.controllers.length === 0
      ? `no cgroup limits (${cg.note}): per-process rlimits`
      : `cgroup v${cg.version} limits (${cg.controllers.join(", ")})${cg.note === "" ? "" : `; ${cg.note}`}`;
  const user = process.getuid?.() === 0 ? "a uid per sandbox" : "the server's uid in a user namespace";
  return { available: true, summary: `bubblewrap ${bwrap.version}; ${limits}; ${user}` };
}

/**
 * A jailed process tree for untrusted code, made with bubblewrap: new user, pid,
 * ipc, uts, cgroup and (unless `network`) network namespaces, so the server's
 * processes and ports are out of sight; a read-only view of /usr and /etc; a
 * private, size-limited, writable working directory ({@link SANDBOX_WORKDIR}) and
 * private /tmp, /dev/shm and /var/tmp, all nosuid and nodev; no_new_privs; a
 * control group limiting the memory, processes and CPU of all its processes
 * together (where the server may create one; rlimits are the program's to set
 * otherwise); as root, a uid of its own. It dies with the server, and
 * {@link Sandbox.close} kills every process in it and frees everything.
 *
 * @example
 * ```ts
 * const box = await Sandbox.start({ command: ["/usr/bin/python3", "-c", "print(6 * 7)"] });
 * box.process.stdout?.pipe(process.stdout);
 * await box.exited;
 * await box.close();
 * ```
 */
export class Sandbox {
  /** Why the program exited, once it has. */
  exitInfo: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | undefined;
  /** Resolves when the sandbox's outer process has exited (everything inside is gone then). */
  readonly exited: Promise<void>;
  private closing: Promise<void> | undefined;

  private constructor(
    /** The sandbox's outermost process: its stdio (and extra pipes) are the program's. */
    readonly process: ChildProcess,
    /** The uid the sandbox runs as on the host, when it has one of its own. */
    readonly uid: number | undefined,
    private readonly cgroup: SandboxCgroup | undefined,
    private readonly ownsUid: boolean,
  ) {
    this.exited = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.exitInfo ??= { code, signal };
        resolve();
      };
      if (process.exitCode !== null || process.signalCode !== null) done(process.exitCode, process.signalCode);
      else process.once("exit", done);
      process.once("error", () => done(null, null));
    });
  }

  /** Starts the program in a new sandbox; throws {@link SandboxUnavailableError} where bubblewrap cannot make one. */
  static async start(options: SandboxOptions): Promise<Sandbox> {
    const bwrap = bwrapStatus();
    if (!bwrap.works || bwrap.path === undefined) throw new SandboxUnavailableError(bwrap.problem);
    const root = process.getuid?.() === 0;
    const runAs = options.runAs ?? "auto";
    let uid: number | undefined;
    let gid: number | undefined;
    let ownsUid = false;
    if (typeof runAs === "object") {
      uid = runAs.uid;
      gid = runAs.gid;
    } else if (root) {
      uid = allocateUid(options.uidRange ?? defaultUidRange);
      if (uid === undefined) throw new SandboxUnavailableError("no free sandbox uid: every uid of uidRange is in use");
      gid = uid;
      ownsUid = true;
    }
    const cgroup = SandboxCgroup.create({
      memoryBytes: (options.memoryLimitMb ?? 1024) * MiB,
      maxProcesses: options.maxProcesses ?? 64,
      cpus: options.cpus ?? 1,
    });
    const args = bwrapArgs({
      network: options.network ?? policy.network,
      readOnly: options.readOnlyPaths ?? [],
      tmpBytes: (options.tmpSizeMb ?? 64) * MiB,
      workdirBytes: (options.workdirSizeMb ?? 256) * MiB,
      workdir: SANDBOX_WORKDIR,
      env: options.env ?? { PATH: "/usr/local/bin:/usr/bin:/bin" },
      hostname: "openenv-sandbox",
      command: options.command,
    });
    // The first process joins the control group, then becomes bwrap (as the sandbox's
    // user): everything bwrap starts is in the group from its first instruction.
    const join = cgroup?.procsFiles ?? [];
    const script = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 126; shift; done; shift; exec "$@"';
    const drop = uid === undefined ? [] : ["/usr/bin/setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--"];
    const command =
      join.length === 0 && drop.length === 0 ? [bwrap.path] : ["/bin/sh", "-c", script, "sh", ...join, "--", ...drop, bwrap.path];
    const pipes = Array.from({ length: options.extraPipes ?? 0 }, () => "pipe" as const);
    let child: ChildProcess;
    try {
      child = spawn(command[0], [...command.slice(1), ...args], {
        stdio: ["pipe", "pipe", "pipe", ...pipes],
        env: {},
        cwd: "/",
        detached: true,
      });
    } catch (err) {
      await cgroup?.destroy();
      if (ownsUid && uid !== undefined) releaseUid(uid);
      throw err;
    }
    return new Sandbox(child, uid, cgroup, ownsUid);
  }

  /** Host pid of the sandbox's outermost process (killing it takes down everything inside). */
  get pid(): number {
    return this.process.pid ?? -1;
  }

  /** Controllers whose limits hold for this sandbox (empty: rlimits only). */
  get cgroupLimits(): readonly CgroupController[] {
    return this.cgroup?.limited ?? [];
  }

  /** The sandbox's control group directories (empty without one); removed by {@link Sandbox.close}. */
  get cgroupDirectories(): string[] {
    return this.cgroup === undefined ? [] : [...new Set(this.cgroup.dirs.values())];
  }

  /** Processes of the sandbox the kernel's OOM killer killed for exceeding its memory limit. */
  oomKills(): number {
    return this.cgroup?.oomKills() ?? 0;
  }

  /** Live host pids of the sandbox's processes, where it has a control group. */
  pids(): number[] {
    return this.cgroup?.pids() ?? [];
  }

  /** Kills every process of the sandbox and waits for its outer process to exit. */
  async kill(): Promise<void> {
    if (this.exitInfo === undefined) {
      try {
        this.process.kill("SIGKILL");
      } catch {
        // exited meanwhile
      }
    }
    // Killing the outer process kills the namespace's init, and with it every process inside.
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5_000))]);
  }

  /** Kills everything, then frees the control group and the uid. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.kill();
      for (const s of this.process.stdio) s?.destroy();
      await this.cgroup?.destroy();
      if (this.ownsUid && this.uid !== undefined) releaseUid(this.uid);
    })();
    return this.closing;
  }
}
