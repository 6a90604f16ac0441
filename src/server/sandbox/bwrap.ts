// Bubblewrap (bwrap): finding it, checking that it can make namespaces here, and
// the command line of one sandbox.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** Whether bubblewrap can sandbox processes on this machine. */
export interface BwrapStatus {
  /** Absolute path of bwrap; undefined when it is not installed. */
  readonly path: string | undefined;
  /** e.g. "0.8.0". */
  readonly version: string;
  /** A trial sandbox started and ran a command. */
  readonly works: boolean;
  /** Why it does not work (not installed, no user namespaces, ...). */
  readonly problem: string;
}

function findOnPath(name: string): string | undefined {
  if (name.includes("/")) return fs.existsSync(name) ? path.resolve(name) : undefined;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  for (const dir of ["/usr/bin", "/usr/local/bin", "/bin"]) {
    const candidate = path.join(dir, name);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The top-level directories a read-only system view shows: symlinks copied, directories bound. */
export function systemView(): string[] {
  const args: string[] = ["--ro-bind", "/usr", "/usr"];
  for (const dir of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push("--symlink", fs.readlinkSync(dir), dir);
    else if (stat.isDirectory()) args.push("--ro-bind", dir, dir);
  }
  args.push("--ro-bind", "/etc", "/etc");
  return args;
}

/** The options of one sandbox's bwrap command line. */
export interface BwrapArgs {
  /** Share the host's network namespace (default: a private one with only a loopback interface). */
  readonly network: boolean;
  /** Host paths shown read-only at the same place (beyond /usr and /etc). */
  readonly readOnly: readonly string[];
  /** Size of the private /tmp, /dev/shm and /var/tmp, bytes each. */
  readonly tmpBytes: number;
  /** Size of the writable working directory, bytes. */
  readonly workdirBytes: number;
  /** The working directory inside the sandbox. */
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly hostname: string;
  readonly command: readonly string[];
}

/**
 * bwrap's arguments for one sandbox: new user, pid, ipc, uts, cgroup (and, unless
 * asked otherwise, network) namespaces; no further user namespaces inside; the
 * sandbox dies with its parent and sits in a session of its own; a read-only system
 * view; private size-limited tmpfs for /tmp, /dev/shm, /var/tmp and the working
 * directory (nosuid, nodev: bwrap mounts every tmpfs so); an empty environment but
 * for `env`. bwrap also sets no_new_privs, so setuid binaries do not raise privileges.
 */
export function bwrapArgs(o: BwrapArgs): string[] {
  const args = [
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    ...(o.network ? [] : ["--unshare-net"]),
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    o.hostname,
    ...systemView(),
  ];
  for (const p of o.readOnly) args.push("--ro-bind", p, p);
  args.push("--proc", "/proc", "--dev", "/dev");
  for (const dir of ["/tmp", "/dev/shm", "/var/tmp"]) args.push("--perms", "1777", "--size", String(o.tmpBytes), "--tmpfs", dir);
  args.push("--perms", "0700", "--size", String(o.workdirBytes), "--tmpfs", o.workdir, "--chdir", o.workdir);
  args.push("--clearenv");
  for (const [k, v] of Object.entries(o.env)) args.push("--setenv", k, v);
  args.push("--", ...o.command);
  return args;
}

let cached: BwrapStatus | undefined;

/**
 * Finds bwrap (`OPENENV_BWRAP` names it, else PATH) and starts a trial sandbox, as
 * an unprivileged user when this process is root (as sandboxes run). Cached.
 */
export function bwrapStatus(): BwrapStatus {
  if (cached !== undefined) return cached;
  const bin = findOnPath(process.env.OPENENV_BWRAP ?? "bwrap");
  if (bin === undefined) {
    cached = { path: undefined, version: "", works: false, problem: "bubblewrap (bwrap) is not installed" };
    return cached;
  }
  const v = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000 });
  const version = /(\d+\.\d+(\.\d+)?)/.exec(v.stdout ?? "")?.[1] ?? "";
  const args = bwrapArgs({
    network: false,
    readOnly: [],
    tmpBytes: 1 << 20,
    workdirBytes: 1 << 20,
    workdir: "/work",
    env: {},
    hostname: "openenv",
    command: ["/bin/sh", "-c", "exit 0"],
  });
  const asRoot = process.getuid?.() === 0;
  const trial = spawnSync(bin, args, { encoding: "utf8", timeout: 10_000, ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  const works = trial.status === 0;
  const why = (trial.stderr ?? "").trim().split("\n")[0] || trial.error?.message || `exit status ${trial.status}`;
  cached = {
    path: bin,
    version,
    works,
    problem: works ? "" : `bwrap ${version} cannot create a sandbox here (${why}); user namespaces may be disabled`,
  };
  return cached;
}
