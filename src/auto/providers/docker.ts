import { execFile, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ServerStartError, waitForHealthy } from "./health.js";
import type { ProviderStartOptions, RunningEnvironment } from "./types.js";

/** Resource limits of a container; every field has a default. */
export interface DockerLimits {
  /** Memory (and memory + swap), MiB. Default 2048. */
  readonly memoryMb?: number;
  /** CPUs. Default 2. */
  readonly cpus?: number;
  /** Processes and threads. Default 512. */
  readonly pids?: number;
  /** Read-only root filesystem (with a writable tmpfs /tmp). Default true. */
  readonly readOnly?: boolean;
  /** `--security-opt no-new-privileges`. Default true. */
  readonly noNewPrivileges?: boolean;
}

/** Options of {@link startDocker}. */
export interface DockerProviderOptions extends ProviderStartOptions {
  /** The docker command. Default `docker`. */
  readonly command?: string;
  /** Container name; default `openenv-<image name>-<random>`. */
  readonly name?: string;
  /** Limits; `false` runs without any (not recommended). */
  readonly limits?: DockerLimits | false;
  /**
   * The environment runs untrusted code in bubblewrap sandboxes of its own (its manifest has
   * a `sandbox` section): the container then allows user namespaces and a fresh /proc, which
   * Docker's default seccomp profile and masked paths forbid.
   */
  readonly sandboxed?: boolean;
}

/** Docker cannot be used here: no CLI, or no engine behind it. */
export class DockerUnavailableError extends Error {
  override readonly name = "DockerUnavailableError";
}

/** The image is not in the local engine (nothing is pulled: there may be no registry). */
export class DockerImageMissingError extends Error {
  override readonly name = "DockerImageMissingError";
}

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], timeoutMs = 60_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && (err as NodeJS.ErrnoException).code === "ENOENT") {
        reject(new DockerUnavailableError(`Docker is not installed: no '${command}' command on PATH`));
        return;
      }
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

const firstLine = (r: Result): string => (r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? "";

/**
 * Checks that a Docker engine answers; throws {@link DockerUnavailableError}
 * saying which part is missing (the CLI, or the engine behind it).
 */
export async function checkDocker(command = "docker"): Promise<string> {
  const r = await run(command, ["version", "--format", "{{.Server.Version}}"], 15_000);
  if (r.code !== 0 || r.stdout.trim() === "") {
    const why = firstLine(r);
    throw new DockerUnavailableError(
      `the Docker CLI is installed but no Docker engine is running${why === "" ? "" : ` (${why})`}; start the Docker daemon, or use another provider (provider: "process")`,
    );
  }
  return r.stdout.trim();
}

/** The label every container this package starts carries: the pid and start time of the process that owns it. */
export const OWNER_LABEL = "openenv-connect.owner";

/** "pid:starttime": a pid alone may be reused after its process died. */
function processIdentity(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return `${pid}:${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
  } catch {
    return undefined;
  }
}

const self = processIdentity(process.pid) ?? `${process.pid}:0`;
const owned = new Map<string, string>(); // container id -> docker command
let reaper: { command: string } | undefined;

/**
 * Starts (once per process) a detached watcher that removes this process's containers
 * when it dies in any way, SIGKILL included: it holds a pipe from this process, whose
 * end-of-file the kernel delivers when this process is gone.
 */
function ensureReaper(command: string): void {
  if (reaper !== undefined) return;
  const script = `const { execFile } = require("node:child_process");
const [cmd, label] = process.argv.slice(1);
let done = false;
const reap = () => {
  if (done) return;
  done = true;
  execFile(cmd, ["ps", "-aq", "--filter", "label=" + label], (e, out) => {
    const ids = String(out || "").split(/\\s+/).filter(Boolean);
    if (ids.length === 0) process.exit(0);
    execFile(cmd, ["rm", "-f", ...ids], () => process.exit(0));
  });
};
process.stdin.on("data", () => {});
process.stdin.on("end", reap);
process.stdin.on("close", reap);
process.stdin.on("error", reap);`;
  const child = spawn(process.execPath, ["-e", script, command, `${OWNER_LABEL}=${self}`], {
    detached: true,
    stdio: ["pipe", "ignore", "ignore"],
  });
  child.on("error", () => {});
  child.unref();
  (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
  reaper = { command };
}

/** On Ctrl-C: remove this process's containers, then let SIGINT do what it would have done. */
function onSigint(): void {
  for (const [id, command] of owned) {
    try {
      execFileSync(command, ["rm", "-f", id], { stdio: "ignore", timeout: 30_000 });
    } catch {
      // the reaper removes it
    }
  }
  owned.clear();
  process.off("SIGINT", onSigint);
  if (process.listenerCount("SIGINT") === 0) process.kill(process.pid, "SIGINT");
}

function track(id: string, command: string): void {
  if (owned.size === 0) process.on("SIGINT", onSigint);
  owned.set(id, command);
}

function untrack(id: string): void {
  owned.delete(id);
  if (owned.size === 0) process.off("SIGINT", onSigint);
}

/** Removes containers of owners that are gone (a reaper that was killed too, a rebooted machine). */
async function sweepOrphans(command: string): Promise<void> {
  const r = await run(command, ["ps", "-a", "--filter", `label=${OWNER_LABEL}`, "--format", `{{.ID}} {{.Label "${OWNER_LABEL}"}}`], 15_000);
  if (r.code !== 0) return;
  const orphans: string[] = [];
  for (const line of r.stdout.trim().split("\n")) {
    const [id, owner] = line.split(" ");
    if (id === undefined || owner === undefined || owner === "") continue;
    const pid = Number(owner.split(":")[0]);
    if (processIdentity(pid) !== owner) orphans.push(id);
  }
  if (orphans.length > 0) await run(command, ["rm", "-f", ...orphans], 60_000);
}

/** docker run's options for the limits (defaults included). */
export function limitArgs(limits: DockerLimits | false | undefined, sandboxed: boolean): string[] {
  const args: string[] = [];
  if (limits !== false) {
    const memory = limits?.memoryMb ?? 2048;
    args.push("--memory", `${memory}m`, "--memory-swap", `${memory}m`, "--cpus", String(limits?.cpus ?? 2));
    args.push("--pids-limit", String(limits?.pids ?? 512));
    if (limits?.readOnly !== false) args.push("--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=256m");
    if (limits?.noNewPrivileges !== false) args.push("--security-opt", "no-new-privileges");
  }
  // bubblewrap inside needs user namespaces (Docker's seccomp profile forbids unshare) and a fresh /proc (masked paths forbid it).
  if (sandboxed) args.push("--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined");
  return args;
}

/** The URL a server announced in its output: `openenv serve`'s JSON or human line. */
function announcedUrl(log: string): string | undefined {
  for (const line of log.split("\n")) {
    if (line.startsWith("{")) {
      try {
        const e = JSON.parse(line) as { event?: string; url?: string };
        if (e.event === "listening" && typeof e.url === "string") return e.url;
      } catch {
        // not JSON after all
      }
    }
    const m = /serving \S+ on (http:\/\/[^\s]+) /.exec(line);
    if (m !== null) return m[1];
  }
  return undefined;
}

/**
 * Runs `image` in a container on the host network (traffic stays on loopback), with
 * limits by default (memory, CPUs, processes, read-only root, no-new-privileges), the
 * server bound to 127.0.0.1 on a free port it picks itself and announces (no port
 * race); waits for health and returns it. The container is removed by `stop()`, on
 * SIGINT, and — through a label naming this process and a reaper process that outlives
 * it — when this process dies in any other way. Nothing is pulled:
 * {@link DockerImageMissingError} when the image is not in the local engine.
 */
export async function startDocker(image: string, options: DockerProviderOptions = {}): Promise<RunningEnvironment> {
  const command = options.command ?? "docker";
  await checkDocker(command);
  await sweepOrphans(command);
  const inspect = await run(command, ["image", "inspect", "--format", "{{.Id}}", image], 30_000);
  if (inspect.code !== 0) {
    const env = image
      .replace(/^.*\//, "")
      .replace(/[:@].*$/, "")
      .replace(/^openenv-/, "");
    throw new DockerImageMissingError(
      `no image '${image}' in the local Docker engine (nothing is pulled): build it with 'openenv build ${env}'`,
    );
  }
  const base = image
    .replace(/^.*\//, "")
    .replace(/[:@].*$/, "")
    .replace(/^openenv-/, "")
    .replace(/[^\w.-]/g, "-");
  const name = options.name ?? `openenv-${base}-${randomBytes(3).toString("hex")}`;
  const args = ["run", "-d", "--network", "host", "--name", name, "--label", `${OWNER_LABEL}=${self}`];
  args.push(...limitArgs(options.limits, options.sandboxed === true));
  const env: Record<string, string> = {
    ...options.envVars,
    OPENENV_HOST: options.host ?? "127.0.0.1",
    OPENENV_PORT: String(options.port ?? 0),
    ...(options.maxSessions === undefined ? {} : { OPENENV_MAX_SESSIONS: String(options.maxSessions) }),
    ...(options.idleTimeoutMs === undefined ? {} : { OPENENV_IDLE_TIMEOUT_S: String(options.idleTimeoutMs / 1000) }),
  };
  for (const [k, v] of Object.entries(env)) args.push("-e", `${k}=${v}`);
  args.push(image);
  options.onProgress?.(`docker run ${image} (container ${name})`);
  ensureReaper(command);
  const started = await run(command, args, 10 * 60_000);
  if (started.code !== 0) throw new ServerStartError(`docker run ${image} failed: ${firstLine(started)}`);
  const id = started.stdout.trim().split("\n").pop()!.trim();
  track(id, command);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= run(command, ["rm", "-f", id], 60_000).then(() => untrack(id));
    return stopping;
  };
  const logs = async (): Promise<string> => {
    const r = await run(command, ["logs", id], 15_000).catch(() => undefined);
    return r === undefined ? "" : `${r.stdout}${r.stderr}`;
  };
  try {
    const timeoutMs = options.waitTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let url: string | undefined;
    for (;;) {
      url = announcedUrl(await logs());
      if (url !== undefined) break;
      const state = await run(command, ["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id], 15_000);
      const [status, code] = state.stdout.trim().split(" ");
      if (status !== "running" && status !== "created") {
        throw new ServerStartError(`the container of ${image} exited with code ${code} before it was ready${tailOf(await logs())}`);
      }
      if (Date.now() > deadline)
        throw new ServerStartError(
          `the container of ${image} did not start serving within ${Math.round(timeoutMs / 1000)} s${tailOf(await logs())}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    const baseUrl = url.replace("//0.0.0.0:", "//127.0.0.1:");
    try {
      await waitForHealthy(baseUrl, { timeoutMs: Math.max(1_000, deadline - Date.now()), onProgress: options.onProgress });
    } catch (err) {
      throw new ServerStartError(`${(err as Error).message}${tailOf(await logs())}`);
    }
    options.onProgress?.(`${image} is serving on ${baseUrl} (container ${name})`);
    return { provider: "docker", baseUrl, containerId: id, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function tailOf(log: string): string {
  const tail = log.trim().split("\n").slice(-30).join("\n");
  return tail === "" ? "" : `\ncontainer log:\n${tail}`;
}
