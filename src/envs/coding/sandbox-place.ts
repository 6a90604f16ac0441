import { spawn } from "node:child_process";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import { allocateUid, defaultUidRange, releaseUid, type SandboxIdentity } from "../../server/sandbox/identity.js";
import { SANDBOX_WORKDIR, Sandbox } from "../../server/sandbox/sandbox.js";
import type { DriverProcess } from "./driver-launch.js";
import { killAllOfUid } from "./identity.js";
import type { SandboxOptions } from "./sandbox.js";

/** Where a session's driver runs: in a bubblewrap sandbox, or (unsafe) as a plain process. */
export interface Place {
  readonly workdir: string;
  readonly identity: SandboxIdentity | undefined;
  readonly sandboxed: boolean;
  launch(argv: readonly string[], env: Record<string, string>): Promise<DriverProcess>;
  /** Kills everything and frees the place (directory, uid). */
  close(): Promise<void>;
}

/** Host paths the interpreter needs beyond /usr and /etc (a Python installed elsewhere). */
async function pythonPaths(python: string): Promise<string[]> {
  const real = await fs.realpath(python);
  const out = new Set<string>();
  for (const p of [python, real]) {
    const dir = path.dirname(path.dirname(p)); // <prefix>/bin/python3 -> <prefix>
    if (!/^\/(usr|etc|bin|sbin|lib|lib32|lib64|libx32)(\/|$)/.test(p) && dir !== "/") out.add(dir);
  }
  return [...out];
}

/** A bubblewrap sandbox per interpreter: the working directory is a tmpfs inside it. */
export async function sandboxPlace(python: string, options: SandboxOptions): Promise<Place> {
  const readOnlyPaths = await pythonPaths(python);
  let sandbox: Sandbox | undefined;
  return {
    workdir: SANDBOX_WORKDIR,
    sandboxed: true,
    async launch(argv, env) {
      await sandbox?.close();
      const box = await Sandbox.start({
        command: argv,
        env,
        network: options.network,
        memoryLimitMb: options.memoryLimitMb ?? 1024,
        maxProcesses: options.maxProcesses ?? 64,
        cpus: options.cpus ?? 1,
        workdirSizeMb: options.workdirSizeMb ?? 256,
        tmpSizeMb: options.tmpSizeMb ?? 64,
        readOnlyPaths,
        extraPipes: 2,
        runAs: typeof options.runAs === "object" ? options.runAs : "auto",
        uidRange: options.uidRange,
      });
      sandbox = box;
      return { child: box.process, pid: box.pid, kill: () => box.kill(), oomKills: () => box.oomKills() };
    },
    get identity() {
      const uid = sandbox?.uid;
      return uid === undefined ? undefined : { uid, gid: uid, exclusive: true };
    },
    async close() {
      await sandbox?.close();
    },
  };
}

/** Unsafe: a plain process in a host working directory, as a per-session uid when root. */
export async function hostPlace(options: SandboxOptions, identity: SandboxIdentity | undefined): Promise<Place> {
  let workdir: string | undefined;
  try {
    workdir = await fs.mkdtemp(path.join(options.workdirParent ?? os.tmpdir(), "openenv-coding-"));
    await fs.chmod(workdir, 0o700);
    if (identity !== undefined) await fs.chown(workdir, identity.uid, identity.gid);
  } catch (err) {
    if (workdir !== undefined) await removeTree(workdir);
    if (identity?.exclusive) releaseUid(identity.uid);
    throw err;
  }
  const dir = workdir;
  let python = "";
  const pids: number[] = [];
  const killAll = async (): Promise<void> => {
    for (const pid of pids) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // the group is empty
      }
    }
    if (identity !== undefined && python !== "") await killAllOfUid(python, identity);
  };
  return {
    workdir: dir,
    identity,
    sandboxed: false,
    async launch(argv, env) {
      python = argv[0];
      const child = spawn(argv[0], argv.slice(1), {
        cwd: dir,
        env,
        // 3: commands, 4: events, 5: held open so the watchdog sees the server die.
        stdio: ["ignore", "pipe", "pipe", "pipe", "pipe", "pipe"],
        detached: true, // setsid: a process group (and session) of its own
        uid: identity?.uid,
        gid: identity?.gid,
      });
      if (child.pid !== undefined) pids.push(child.pid);
      const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once("exit", () => resolve());
        child.once("error", () => resolve());
      });
      return {
        child,
        pid: child.pid ?? -1,
        async kill() {
          await killAll();
          await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
        },
        oomKills: () => 0,
      };
    },
    async close() {
      await killAll();
      await removeTree(dir);
      if (identity?.exclusive) releaseUid(identity.uid);
    },
  };
}

export function chooseIdentity(options: SandboxOptions): SandboxIdentity | undefined {
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
