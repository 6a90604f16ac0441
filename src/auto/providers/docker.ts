import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { ServerStartError, waitForHealthy } from "./health.js";
import type { ProviderStartOptions, RunningEnvironment } from "./types.js";

/** Options of {@link startDocker}. */
export interface DockerProviderOptions extends ProviderStartOptions {
  /** The docker command. Default `docker`. */
  readonly command?: string;
  /** Port the server listens on inside the container (the manifest's `port`). Default 8000. */
  readonly containerPort?: number;
  /** Container name; default `openenv-<image name>-<random>`. */
  readonly name?: string;
}

/** Docker cannot be used here: no CLI, or no engine behind it. */
export class DockerUnavailableError extends Error {
  override readonly name = "DockerUnavailableError";
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

/**
 * Checks that a Docker engine answers; throws {@link DockerUnavailableError}
 * saying which part is missing (the CLI, or the engine behind it).
 */
export async function checkDocker(command = "docker"): Promise<string> {
  const r = await run(command, ["version", "--format", "{{.Server.Version}}"], 15_000);
  if (r.code !== 0 || r.stdout.trim() === "") {
    const why = (r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? "";
    throw new DockerUnavailableError(
      `the Docker CLI is installed but no Docker engine is running${why === "" ? "" : ` (${why})`}; start the Docker daemon, or use another provider (provider: "process")`,
    );
  }
  return r.stdout.trim();
}

/**
 * Runs `image` with `docker run -d --rm -p 127.0.0.1:<port>:<containerPort>` (a
 * free host port unless `port` is given; Docker picks it, so there is no race),
 * waits for health, and returns the running container. `stop()` runs `docker stop`
 * (the container is removed by `--rm`). If this process dies without `stop()`,
 * the container keeps running: Docker owns it.
 */
export async function startDocker(image: string, options: DockerProviderOptions = {}): Promise<RunningEnvironment> {
  const command = options.command ?? "docker";
  await checkDocker(command);
  const containerPort = options.containerPort ?? 8000;
  const base = image
    .replace(/^.*\//, "")
    .replace(/[:@].*$/, "")
    .replace(/^openenv-/, "")
    .replace(/[^\w.-]/g, "-");
  const name = options.name ?? `openenv-${base}-${randomBytes(3).toString("hex")}`;
  const args = ["run", "-d", "--rm", "--name", name, "-p", `127.0.0.1:${options.port ?? ""}:${containerPort}`];
  for (const [k, v] of Object.entries(options.envVars ?? {})) args.push("-e", `${k}=${v}`);
  args.push(image);
  options.onProgress?.(`docker run ${image} (container ${name})`);
  const started = await run(command, args, 10 * 60_000);
  if (started.code !== 0) {
    throw new ServerStartError(`docker run ${image} failed: ${started.stderr.trim() || started.stdout.trim()}`);
  }
  const id = started.stdout.trim().split("\n").pop()!.trim();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= run(command, ["stop", "--time", "5", id], 60_000).then(() => {});
    return stopping;
  };
  try {
    const mapped = await run(command, ["port", id, `${containerPort}/tcp`], 15_000);
    const m = /:(\d+)\s*$/m.exec(mapped.stdout.trim().split("\n")[0] ?? "");
    if (mapped.code !== 0 || m === null) {
      throw new ServerStartError(`cannot read the host port of container ${name}: ${mapped.stderr.trim() || mapped.stdout.trim()}`);
    }
    const baseUrl = `http://127.0.0.1:${m[1]}`;
    try {
      await waitForHealthy(baseUrl, { timeoutMs: options.waitTimeoutMs ?? 30_000, onProgress: options.onProgress });
    } catch (err) {
      const logs = await run(command, ["logs", "--tail", "50", id], 15_000).catch(() => undefined);
      const tail = logs === undefined ? "" : `${logs.stdout}${logs.stderr}`.trim();
      throw new ServerStartError(`${(err as Error).message}${tail === "" ? "" : `\ncontainer log:\n${tail}`}`);
    }
    options.onProgress?.(`${image} is serving on ${baseUrl} (container ${name})`);
    return { provider: "docker", baseUrl, containerId: id, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
