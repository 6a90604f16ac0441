import * as fs from "node:fs";
import * as path from "node:path";

/** The user a session's interpreter runs as. */
export interface SandboxIdentity {
  readonly uid: number;
  readonly gid: number;
  /**
   * The uid belongs to this session alone, so every process of the uid is the
   * session's: limits count per session and cleanup may kill them all (even
   * those that left the process group).
   */
  readonly exclusive: boolean;
}

/** Default range of per-session uids when the server runs as root (under 65536, so user-namespaced containers map them). */
export const defaultUidRange: readonly [number, number] = [61000, 64999];

const uidsInUse = new Set<number>();

/** Reads the real uid and thread count of every process from /proc. */
function processTable(): { pid: number; uid: number; threads: number }[] {
  const out: { pid: number; uid: number; threads: number }[] = [];
  let entries: string[];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return out;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let status: string;
    try {
      status = fs.readFileSync(`/proc/${name}/status`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const uid = /^Uid:\s+(\d+)/m.exec(status);
    const threads = /^Threads:\s+(\d+)/m.exec(status);
    const state = /^State:\s+(\S)/m.exec(status);
    if (uid === null || state?.[1] === "Z") continue;
    out.push({ pid: Number(name), uid: Number(uid[1]), threads: threads === null ? 1 : Number(threads[1]) });
  }
  return out;
}

/** Process ids of the live (non-zombie) processes whose real uid is `uid`. */
export function processesOfUid(uid: number): number[] {
  return processTable()
    .filter((p) => p.uid === uid)
    .map((p) => p.pid);
}

/** Threads (what RLIMIT_NPROC counts) of the processes whose real uid is `uid`. */
export function tasksOfUid(uid: number): number {
  return processTable()
    .filter((p) => p.uid === uid)
    .reduce((n, p) => n + p.threads, 0);
}

/**
 * Picks a uid for a session from `range` that no live process uses and no
 * other session of this process holds. Returns undefined when none is free.
 */
export function allocateUid(range: readonly [number, number]): number | undefined {
  const [low, high] = range;
  const size = high - low + 1;
  const busy = new Set(processTable().map((p) => p.uid));
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const uid = low + ((start + i) % size);
    if (!uidsInUse.has(uid) && !busy.has(uid)) {
      uidsInUse.add(uid);
      return uid;
    }
  }
  return undefined;
}

/** Returns a uid to the pool. */
export function releaseUid(uid: number): void {
  uidsInUse.delete(uid);
}

/** True when a user that is neither owner nor group member can run `file` (o+x on every directory, o+rx on the file). */
export function runnableByOthers(file: string): boolean {
  const check = (p: string, bits: number): boolean => {
    try {
      return (fs.statSync(p).mode & bits) === bits;
    } catch {
      return false;
    }
  };
  const paths = [path.resolve(file)];
  try {
    paths.push(fs.realpathSync(file));
  } catch {
    return false;
  }
  for (const p of paths) {
    for (let dir = path.dirname(p); ; dir = path.dirname(dir)) {
      if (!check(dir, 0o001)) return false;
      if (dir === path.dirname(dir)) break;
    }
  }
  return check(paths[1], 0o005);
}

/**
 * SIGKILLs the processes `find` returns until it returns none: a process that was
 * forking when its turn came may have left children, so it takes rounds.
 */
export async function killUntilGone(find: () => number[], rounds = 100): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const pids = find();
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
