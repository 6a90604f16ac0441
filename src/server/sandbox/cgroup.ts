// Control groups for sandboxes: one group per sandbox under the server's own, so
// that memory, CPU and process limits count every process of the sandbox together
// (rlimits count per process). cgroup v1 (one hierarchy per controller) and v2 (one
// unified hierarchy, where the server's group must delegate the controllers).
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { killUntilGone } from "./identity.js";

/** Limits of one sandbox's group; each is applied where its controller is available. */
export interface CgroupLimits {
  /** Memory of all the sandbox's processes together (tmpfs pages included), bytes. */
  readonly memoryBytes?: number;
  /** Processes and threads at once. */
  readonly maxProcesses?: number;
  /** CPU time per wall-clock time, in CPUs (1.5 = one and a half cores). */
  readonly cpus?: number;
}

/** The controllers a sandbox limit needs. */
export type CgroupController = "memory" | "pids" | "cpu";
const controllers: readonly CgroupController[] = ["memory", "pids", "cpu"];

/** Where this process may create sandbox groups. */
export interface CgroupSupport {
  readonly version: 1 | 2 | undefined;
  /** Controllers whose limits can be set (empty: none, rlimits only). */
  readonly controllers: readonly CgroupController[];
  /** Why some controller is missing, for the startup message. */
  readonly note: string;
}

/** The root of the cgroup filesystem; a parameter for tests. */
const defaultRoot = "/sys/fs/cgroup";

interface Layout {
  readonly version: 1 | 2;
  /** Per controller: the directory under which this process's sandbox groups go. */
  readonly parents: ReadonlyMap<CgroupController, string>;
  readonly note: string;
}

/** This process's group in each hierarchy, from /proc/self/cgroup: "4:memory:/a/b" (v1) or "0::/a/b" (v2). */
function ownGroups(text: string): { v1: Map<string, string>; v2: string | undefined } {
  const v1 = new Map<string, string>();
  let v2: string | undefined;
  for (const line of text.split("\n")) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (m === null) continue;
    if (m[1] === "0" && m[2] === "") v2 = m[3];
    else for (const c of m[2].split(",")) v1.set(c, m[3]);
  }
  return { v1, v2 };
}

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Works out where sandbox groups can be made; undefined when nowhere. */
export function detectLayout(root = defaultRoot, selfCgroup = "/proc/self/cgroup"): Layout | undefined {
  let own: ReturnType<typeof ownGroups>;
  try {
    own = ownGroups(fs.readFileSync(selfCgroup, "utf8"));
  } catch {
    return undefined;
  }
  const parents = new Map<CgroupController, string>();
  const missing: string[] = [];
  if (fs.existsSync(path.join(root, "memory")) || fs.existsSync(path.join(root, "pids"))) {
    for (const c of controllers) {
      const mount = path.join(root, c);
      const group = own.v1.get(c);
      const dir = group === undefined ? undefined : path.join(mount, group);
      if (dir !== undefined && fs.existsSync(dir) && writable(dir)) parents.set(c, dir);
      else missing.push(c);
    }
    if (parents.size === 0) return undefined;
    return { version: 1, parents, note: missing.length === 0 ? "" : `no writable ${missing.join(", ")} hierarchy` };
  }
  if (own.v2 !== undefined && fs.existsSync(path.join(root, "cgroup.controllers"))) {
    const dir = path.join(root, own.v2);
    if (!writable(dir)) return undefined;
    // Children get a controller only when this group delegates it (cgroup.subtree_control).
    let enabled = readWords(path.join(dir, "cgroup.subtree_control"));
    const wanted = controllers.filter((c) => !enabled.includes(c) && readWords(path.join(dir, "cgroup.controllers")).includes(c));
    if (wanted.length > 0) {
      try {
        fs.writeFileSync(path.join(dir, "cgroup.subtree_control"), wanted.map((c) => `+${c}`).join(" "));
      } catch {
        // A group holding processes cannot delegate (cgroup v2's "no internal processes" rule).
      }
      enabled = readWords(path.join(dir, "cgroup.subtree_control"));
    }
    for (const c of controllers) {
      if (enabled.includes(c)) parents.set(c, dir);
      else missing.push(c);
    }
    if (parents.size === 0) return undefined;
    const note = missing.length === 0 ? "" : `the server's cgroup (${own.v2}) does not delegate ${missing.join(", ")}`;
    return { version: 2, parents, note };
  }
  return undefined;
}

function readWords(file: string): string[] {
  try {
    return fs.readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

let cachedLayout: Layout | null | undefined;

function layout(): Layout | undefined {
  if (cachedLayout === undefined) cachedLayout = detectLayout() ?? null;
  return cachedLayout ?? undefined;
}

/** What this process can limit with control groups. */
export function cgroupSupport(): CgroupSupport {
  const l = layout();
  if (l === undefined) return { version: undefined, controllers: [], note: "no writable cgroup hierarchy" };
  return { version: l.version, controllers: [...l.parents.keys()], note: l.note };
}

/**
 * One sandbox's control group (a directory per v1 hierarchy, or one v2 directory).
 * Processes join it through {@link SandboxCgroup.procsFiles} before they start
 * anything, so everything they fork is counted and can be killed together.
 */
export class SandboxCgroup {
  private constructor(
    readonly version: 1 | 2,
    /** Group directory per controller (v2: the same directory for all). */
    readonly dirs: ReadonlyMap<CgroupController, string>,
    /** Controllers whose limits were set. */
    readonly limited: readonly CgroupController[],
  ) {}

  /**
   * Creates a group with these limits, or returns undefined where groups cannot be
   * made (not root, read-only hierarchy, no delegation): rlimits are the fallback.
   */
  static create(limits: CgroupLimits, from: Layout | undefined = layout()): SandboxCgroup | undefined {
    if (from === undefined) return undefined;
    const name = `openenv-sandbox-${process.pid}-${randomBytes(4).toString("hex")}`;
    const dirs = new Map<CgroupController, string>();
    const limited: CgroupController[] = [];
    try {
      for (const [c, parent] of from.parents) {
        const dir = path.join(parent, name);
        if (![...dirs.values()].includes(dir)) fs.mkdirSync(dir);
        dirs.set(c, dir);
      }
      const group = new SandboxCgroup(from.version, dirs, limited);
      for (const c of dirs.keys()) if (group.apply(c, limits)) limited.push(c);
      return group;
    } catch {
      for (const dir of new Set(dirs.values())) fs.rmSync(dir, { recursive: false, force: true });
      return undefined;
    }
  }

  /** The `cgroup.procs` files a process writes its pid to, to join the group (each once). */
  get procsFiles(): string[] {
    return [...new Set(this.dirs.values())].map((d) => path.join(d, "cgroup.procs"));
  }

  /** Live processes of the group. */
  pids(): number[] {
    const out = new Set<number>();
    for (const file of this.procsFiles) {
      for (const w of readWords(file)) out.add(Number(w));
    }
    return [...out];
  }

  /** Times the kernel's OOM killer killed a process of the group for exceeding the memory limit. */
  oomKills(): number {
    const dir = this.dirs.get("memory");
    if (dir === undefined) return 0;
    const file = this.version === 1 ? "memory.oom_control" : "memory.events";
    try {
      const m = /^oom_kill (\d+)$/m.exec(fs.readFileSync(path.join(dir, file), "utf8"));
      return m === null ? 0 : Number(m[1]);
    } catch {
      return 0;
    }
  }

  /** Kills every process of the group (repeatedly: one may have been forking) and removes the group. */
  async destroy(): Promise<void> {
    await killUntilGone(() => this.pids());
    for (const dir of new Set(this.dirs.values())) {
      for (let attempt = 0; attempt < 50; attempt++) {
        try {
          fs.rmdirSync(dir);
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOENT") break;
          // EBUSY while the last processes exit
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  }

  private apply(c: CgroupController, limits: CgroupLimits): boolean {
    const dir = this.dirs.get(c) as string;
    const set = (file: string, value: string | number): void => fs.writeFileSync(path.join(dir, file), String(value));
    if (c === "memory" && limits.memoryBytes !== undefined) {
      if (this.version === 1) {
        set("memory.limit_in_bytes", limits.memoryBytes);
        // Swap must not extend the limit (memsw exists only with swap accounting on).
        if (fs.existsSync(path.join(dir, "memory.memsw.limit_in_bytes"))) set("memory.memsw.limit_in_bytes", limits.memoryBytes);
      } else {
        set("memory.max", limits.memoryBytes);
        if (fs.existsSync(path.join(dir, "memory.swap.max"))) set("memory.swap.max", 0);
      }
      return true;
    }
    if (c === "pids" && limits.maxProcesses !== undefined) {
      set("pids.max", limits.maxProcesses);
      return true;
    }
    if (c === "cpu" && limits.cpus !== undefined) {
      const period = 100_000;
      const quota = Math.max(1_000, Math.round(limits.cpus * period));
      if (this.version === 1) {
        set("cpu.cfs_period_us", period);
        set("cpu.cfs_quota_us", quota);
      } else {
        set("cpu.max", `${quota} ${period}`);
      }
      return true;
    }
    return false;
  }
}
