import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { packageRoot } from "../modules.js";
import { ServerStartError, waitForHealthy } from "./health.js";
import type { ProviderStartOptions, RunningEnvironment } from "./types.js";

/** What the child server prints once it listens (`openenv serve --json`). */
interface ListeningEvent {
  readonly event: "listening";
  readonly url: string;
  readonly port: number;
}

/** Options of {@link startProcess}. */
export interface ProcessProviderOptions extends ProviderStartOptions {
  /** Node executable. Default: the one running this process. */
  readonly nodePath?: string;
  /** How long `stop()` waits after SIGTERM before SIGKILL. Default 5 s. */
  readonly killTimeoutMs?: number;
}

/**
 * Serves an environment in a child `node` process: `openenv serve <target> --port 0 --json
 * --exit-with-parent`. The child reports the port it bound (no port race), the
 * parent waits for health, and `stop()` terminates it. The child also exits by
 * itself when this process dies: it watches its stdin (a pipe from this process,
 * closed by the kernel when we die) and its parent pid.
 *
 * @param target an environment name or the path of its manifest (or its directory)
 */
export async function startProcess(target: string, options: ProcessProviderOptions = {}): Promise<RunningEnvironment> {
  const args = [
    join(packageRoot(), "bin", "openenv.js"),
    "serve",
    target,
    "--port",
    String(options.port ?? 0),
    "--host",
    options.host ?? "127.0.0.1",
    "--json",
    "--exit-with-parent",
  ];
  if (options.maxSessions !== undefined) args.push("--max-sessions", String(options.maxSessions));
  if (options.idleTimeoutMs !== undefined) args.push("--idle-timeout", String(options.idleTimeoutMs / 1000));
  const timeoutMs = options.waitTimeoutMs ?? 30_000;
  const started = Date.now();
  options.onProgress?.(`starting ${target} in a child process`);
  const child = spawn(options.nodePath ?? process.execPath, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, ...options.envVars },
  });
  let stderrTail = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4_000);
  });
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = signal !== null ? `signal ${signal}` : `code ${code}`;
      resolve();
    });
    child.once("error", (err) => {
      exited = err.message;
      resolve();
    });
  });
  const failure = (): string =>
    `the environment server (${target}) exited with ${exited} before it was ready${stderrTail.trim() === "" ? "" : `:\n${stderrTail.trim()}`}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited !== undefined) return;
      child.stdin?.end();
      child.kill("SIGTERM");
      const killAfter = setTimeout(() => child.kill("SIGKILL"), options.killTimeoutMs ?? 5_000);
      await exitPromise;
      clearTimeout(killAfter);
    })();
    return stopping;
  };
  try {
    const listening = await readyLine(child, timeoutMs, exitPromise, options.onProgress, target);
    if (listening === undefined) throw new ServerStartError(failure());
    await waitForHealthy(listening.url, {
      timeoutMs: Math.max(1_000, timeoutMs - (Date.now() - started)),
      onProgress: options.onProgress,
      failed: () => (exited === undefined ? undefined : failure()),
    });
    options.onProgress?.(`${target} is serving on ${listening.url} (pid ${child.pid}, ${Date.now() - started} ms)`);
    // Keep draining the pipes, but let this process exit without an explicit stop():
    // the child then sees its stdin close and exits too.
    child.stdout!.resume();
    child.unref();
    for (const stream of [child.stdin, child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    return { provider: "process", baseUrl: listening.url, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function readyLine(
  child: ChildProcess,
  timeoutMs: number,
  exit: Promise<void>,
  onProgress: ((message: string) => void) | undefined,
  target: string,
): Promise<ListeningEvent | undefined> {
  return new Promise<ListeningEvent | undefined>((resolve, reject) => {
    const started = Date.now();
    const lines = createInterface({ input: child.stdout! });
    const finish = (value: ListeningEvent | undefined, err?: Error): void => {
      clearTimeout(timer);
      clearInterval(ticker);
      lines.removeAllListeners("line");
      if (err !== undefined) reject(err);
      else resolve(value);
    };
    const timer = setTimeout(
      () =>
        finish(
          undefined,
          new ServerStartError(`the environment server (${target}) did not start within ${Math.round(timeoutMs / 1000)} s`),
        ),
      timeoutMs,
    );
    const ticker = setInterval(
      () => onProgress?.(`waiting for ${target} to start (${Math.round((Date.now() - started) / 1000)} s)`),
      5_000,
    );
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return;
      try {
        const event = JSON.parse(line) as Partial<ListeningEvent>;
        if (event.event === "listening" && typeof event.url === "string") finish(event as ListeningEvent);
      } catch {
        // not our JSON line
      }
    });
    void exit.then(() => finish(undefined));
  });
}
