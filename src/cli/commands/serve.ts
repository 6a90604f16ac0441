import { existsSync, readFileSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type EnvInfo, environmentFromPath, findEnvironment } from "../../auto/discovery.js";
import { installFromHub } from "../../auto/hub.js";
import { loadEnvironment } from "../../auto/load.js";
import { formatIssue } from "../../auto/manifest.js";
import { parseEnvReference } from "../../auto/names.js";
import { startDocker } from "../../auto/providers/docker.js";
import { probeHealth } from "../../auto/providers/health.js";
import type { ClusterEvent } from "../../server/cluster/options.js";
import { formatClusterEvent, serveCluster } from "../../server/cluster/serve-cluster.js";
import { configureSandboxes, SandboxUnavailableError, sandboxReport } from "../../server/sandbox/sandbox.js";
import { serve } from "../../server/serve.js";
import { type CliIO, type Command, ExitCode, intOption, secondsOption, UsageError } from "../common.js";
import { stopOnSignals } from "../shutdown.js";

/** True when the argument names a manifest or a directory holding one, rather than an environment name. */
export function looksLikePath(arg: string): boolean {
  if (parseEnvReference(arg).kind === "path") return true;
  if (!existsSync(arg)) return false;
  const stat = statSync(arg);
  return stat.isDirectory() ? existsSync(join(arg, "openenv.yaml")) : /\.ya?ml$/.test(arg);
}

/** Resolves a name, path or Hub id (installing it, with a prompt unless `yes`) to an environment. */
export async function resolveTarget(target: string, options: { project?: string; yes?: boolean }, io: CliIO): Promise<EnvInfo> {
  if (looksLikePath(target)) return environmentFromPath(target);
  const ref = parseEnvReference(target);
  if (ref.kind === "url") throw new UsageError(`${target} is a URL: serve needs a local environment (name, path or Hub id)`);
  if (ref.kind === "hub") {
    return installFromHub(ref.repoId, {
      trustRemoteCode: options.yes,
      projectDir: options.project,
      onProgress: (m) => io.err(`openenv: ${m}\n`),
    });
  }
  return findEnvironment(target, { projectDir: options.project, api: "openenv serve" });
}

export const serveCommand: Command = {
  name: "serve",
  summary: "Serve an environment (Connect, gRPC, gRPC-Web on one port)",
  help: `Usage: openenv serve NAME|PATH|USER/ENV [options]

Serves an environment until Ctrl-C or SIGTERM: Connect, gRPC and gRPC-Web
over h2c and HTTP/1.1 on one port, plus grpc.health.v1 and reflection.
NAME is a discovered environment (openenv list); PATH a directory with an
openenv.yaml (or the file); USER/ENV a Hub Space, installed first (with a
prompt, unless --yes). The manifest's variables are set in the server's
environment unless already set.

Options:
  --port N             TCP port (default $OPENENV_PORT, else 8000; 0 picks a free one)
  --host HOST          interface to bind (default $OPENENV_HOST, else 127.0.0.1; 0.0.0.0 for all)
  --max-sessions N     most sessions at once, in all workers together (default 64)
  --workers N|auto     serve from N worker processes (auto: one per core); each
                       session lives in one worker, calls for it are routed
                       there from any worker; a worker that dies is replaced
  --idle-timeout S     close sessions idle for S seconds (default 600; 0 never)
  --replica-id ID      this server's name among replicas behind a load balancer
                       (also read from OPENENV_REPLICA_ID): session ids start with
                       ID.<boot>. so the balancer routes each call to its replica
                       (docs/deploy.md)
  --drain-timeout S    on SIGTERM, first report NOT_SERVING, refuse new sessions and
                       wait up to S seconds for open ones to end (default 0)
  --mode MODE          OpenEnv mode: simulation (default; HTTP /reset /step /state)
                       or production (without them)
  --no-openenv         do not serve OpenEnv's HTTP/JSON + WebSocket protocol
  --no-web             do not serve the /web page (served by default, except
                       in production mode)
  --token TOKEN        require 'Authorization: Bearer TOKEN' on every call (repeatable;
                       also read from OPENENV_AUTH_TOKEN); health checks stay open.
                       The token is blanked from the process's command line at once;
                       --token-file or the variable keep it off the command line entirely
  --token-file FILE    read tokens from FILE (one per line)
  --docker             serve the environment's image in a container (see openenv
                       build) on the host network, with default limits; the
                       container is removed on exit, Ctrl-C, or if this process dies
  --image IMAGE        with --docker: the image (default: the manifest's default_image)
  --unsafe-no-sandbox  where bubblewrap cannot sandbox (not installed, no user
                       namespaces), run an environment's untrusted code anyway,
                       without a sandbox (by default such sessions are refused)
  --cors ORIGIN        allow browser calls from ORIGIN (repeatable; * for any)
  --json               print one JSON line {"event":"listening","url",...} when ready
  --exit-with-parent   exit when stdin closes or the parent process dies
                       (used by the child-process provider)
  --project DIR        project whose node_modules are scanned (default: .)
  --yes                install a Hub environment without asking

Examples:
  openenv serve echo --port 8000
  openenv serve ./my-env --port 0 --json
  openenv serve echo --workers auto
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        // Defaults from the environment too: a container image sets them, and the Docker provider overrides them.
        port: { type: "string", default: process.env.OPENENV_PORT || "8000" },
        host: { type: "string", default: process.env.OPENENV_HOST || "127.0.0.1" },
        "max-sessions": { type: "string", default: process.env.OPENENV_MAX_SESSIONS || undefined },
        workers: { type: "string" },
        "idle-timeout": { type: "string", default: process.env.OPENENV_IDLE_TIMEOUT_S || undefined },
        "replica-id": { type: "string" },
        "drain-timeout": { type: "string" },
        json: { type: "boolean" },
        mode: { type: "string", default: "simulation" },
        "no-openenv": { type: "boolean", default: false },
        "no-web": { type: "boolean", default: false },
        token: { type: "string", multiple: true },
        "token-file": { type: "string" },
        "unsafe-no-sandbox": { type: "boolean" },
        docker: { type: "boolean" },
        image: { type: "string" },
        cors: { type: "string", multiple: true },
        "exit-with-parent": { type: "boolean" },
        project: { type: "string" },
        yes: { type: "boolean", short: "y" },
      },
    });
    const target = positionals[0];
    if (target === undefined || positionals.length > 1) throw new UsageError("expected one environment name, path or Hub id");
    const port = intOption("port", values.port, 0, 65535)!;
    const maxSessions = intOption("max-sessions", values["max-sessions"], 1);
    const workers = values.workers === "auto" ? availableParallelism() : intOption("workers", values.workers, 1, 1024);
    const idle = secondsOption("idle-timeout", values["idle-timeout"]);
    const drain = secondsOption("drain-timeout", values["drain-timeout"]);
    const replicaId = values["replica-id"] ?? (process.env.OPENENV_REPLICA_ID || undefined);
    if (replicaId !== undefined && !/^[A-Za-z0-9_-]{1,63}$/.test(replicaId)) {
      throw new UsageError(`--replica-id must be 1-63 letters, digits, '-' or '_', got '${replicaId}'`);
    }
    const mode = values.mode;
    if (mode !== "simulation" && mode !== "production") throw new UsageError(`invalid --mode '${mode ?? ""}': simulation or production`);
    if (values.token !== undefined) hideFromCommandLine(values.token);
    const fromFile = values["token-file"] === undefined ? [] : readTokenFile(values["token-file"]);
    const tokens = [...(values.token ?? []), ...fromFile, ...(process.env.OPENENV_AUTH_TOKEN ? [process.env.OPENENV_AUTH_TOKEN] : [])];
    const cors = values.cors;
    const info = await resolveTarget(target, { project: values.project, yes: values.yes }, io);
    for (const w of info.warnings) io.err(`warning: ${formatIssue(w)}\n`);
    if (values.docker === true) {
      if (workers !== undefined || tokens.length > 0 || cors !== undefined)
        throw new UsageError("--docker runs the image's own server: --workers, --token and --cors do not apply");
      return serveInDocker(
        info,
        { image: values.image, port, host: values.host, maxSessions, idleTimeoutMs: idle === undefined ? undefined : idle * 1000 },
        values.json === true,
        io,
      );
    }
    checkSandbox(info, values["unsafe-no-sandbox"] === true, io);
    // The manifest's variables are the server's environment (as OpenEnv sets them on a Space); the shell's own values win.
    for (const [name, value] of Object.entries(info.manifest.variables)) process.env[name] ??= value;
    const loaded = await loadEnvironment(info);
    const openenv = values["no-openenv"] ? false : { mode: mode as "simulation" | "production" };
    const web = values["no-web"] ? false : undefined;
    const serveOptions = {
      openenv,
      web,
      auth: tokens.length > 0 ? { tokens } : undefined,
      cors: cors === undefined ? undefined : { origins: cors.includes("*") ? ("*" as const) : cors },
      port,
      host: values.host,
      maxSessions,
      idleTimeoutMs: idle === undefined ? undefined : idle * 1000,
      replicaId,
      drainTimeoutMs: drain === undefined ? undefined : drain * 1000,
    };
    const server =
      workers === undefined
        ? await serve(loaded.source, serveOptions)
        : await serveCluster(
            { manifest: info.manifestPath },
            { ...serveOptions, workers, onEvent: workerEvents(io, values.json === true) },
          );
    // Handlers go in before the server is announced (see stopOnSignals).
    const stopped = stopOnSignals(() => server.close(), io, { exitWithParent: values["exit-with-parent"] });
    const pool = "workers" in server ? server.workers() : undefined;
    if (values.json) {
      const event = {
        event: "listening",
        env: info.envKey,
        url: server.url,
        port: server.port,
        host: server.host,
        pid: process.pid,
        ...(replicaId === undefined ? {} : { replica: replicaId }),
      };
      io.out(`${JSON.stringify(pool === undefined ? event : { ...event, workers: pool })}\n`);
    } else {
      const extra = openenv === false ? "" : `; OpenEnv HTTP/JSON and WebSocket ${server.url.replace("http", "ws")}/ws, ${mode} mode`;
      const processes = pool === undefined ? "" : `, ${pool.length} worker processes`;
      io.out(`openenv: serving ${info.envKey} on ${server.url} (Connect, gRPC, gRPC-Web; h2c and HTTP/1.1${extra}${processes})\n`);
      if (web !== false && mode === "simulation") io.out(`openenv: web page ${server.url}/web/\n`);
    }
    const code = await stopped;
    if (values["exit-with-parent"]) process.stdin.destroy();
    return code;
  },
};

/** Worker lifecycle lines: JSON events on stdout with --json, else a line on stderr. */
function workerEvents(io: CliIO, json: boolean): (event: ClusterEvent) => void {
  return (event) => {
    const { type, ...fields } = event;
    if (json) io.out(`${JSON.stringify({ event: type, ...fields })}\n`);
    else io.err(`${formatClusterEvent(event)}\n`);
  };
}

/**
 * Blanks secrets in this process's command line (/proc/<pid>/cmdline, `ps`), which
 * every local user can read: Node rewrites the memory the kernel shows it from.
 */
function hideFromCommandLine(secrets: readonly string[]): void {
  const hidden = process.argv.map((a) => {
    for (const s of secrets) if (s !== "" && a.includes(s)) return a.replaceAll(s, "***");
    return a;
  });
  process.title = hidden.join(" ");
}

/** Tokens from a file, one per line (blank lines and surrounding space ignored). */
function readTokenFile(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read --token-file ${file}: ${(err as Error).message}`);
  }
  const tokens = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (tokens.length === 0) throw new UsageError(`--token-file ${file} holds no token`);
  return tokens;
}

/**
 * An environment whose manifest has a `sandbox` section runs untrusted code: say how
 * its sandboxes are made, or refuse to serve it where none can be (unless the
 * operator accepts running it unsandboxed). Worker processes inherit the settings.
 */
function checkSandbox(info: EnvInfo, unsafe: boolean, io: CliIO): void {
  configureSandboxes({
    allowUnsandboxed: unsafe,
    ...(info.manifest.sandbox === undefined ? {} : { network: info.manifest.sandbox.network }),
  });
  if (info.manifest.sandbox === undefined) return;
  const report = sandboxReport();
  const network = info.manifest.sandbox.network ? "network on (the manifest asks for it)" : "no network";
  if (report.available) {
    io.err(`openenv: ${info.envKey} runs untrusted code in sandboxes: ${report.summary}; ${network}\n`);
  } else if (unsafe) {
    io.err(`openenv: WARNING: ${report.summary}; ${info.envKey} runs untrusted code WITHOUT a sandbox (--unsafe-no-sandbox)\n`);
  } else {
    throw new SandboxUnavailableError(
      `${report.summary}: ${info.envKey} runs untrusted code and is served only in sandboxes; install bubblewrap (e.g. apt-get install bubblewrap), or pass --unsafe-no-sandbox to run it without one`,
    );
  }
}

/** `serve --docker`: the image in a container until a signal; the container goes with this process. */
async function serveInDocker(
  info: EnvInfo,
  o: { image?: string; port: number; host: string | undefined; maxSessions?: number; idleTimeoutMs?: number },
  json: boolean,
  io: CliIO,
): Promise<number> {
  const image = o.image ?? info.defaultImage;
  const running = await startDocker(image, {
    port: o.port,
    host: o.host,
    maxSessions: o.maxSessions,
    idleTimeoutMs: o.idleTimeoutMs,
    sandboxed: info.manifest.sandbox !== undefined,
    onProgress: json ? undefined : (m) => io.err(`openenv: ${m}\n`),
  });
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, code: number): void => {
      if (stopping) return;
      stopping = true;
      clearInterval(watch);
      io.err(`openenv: removing container ${running.containerId?.slice(0, 12)} (${why})\n`);
      void running.stop().then(() => resolve(code));
    };
    process.once("SIGINT", () => stop("SIGINT", ExitCode.interrupted));
    process.once("SIGTERM", () => stop("SIGTERM", ExitCode.ok));
    // Watching the server also keeps this process alive while the container serves.
    const watch = setInterval(() => {
      void probeHealth(running.baseUrl as string, 5_000).then((ok) => {
        if (!ok && !stopping) stop("the container stopped answering", ExitCode.failure);
      });
    }, 5_000);
  });
  const url = running.baseUrl as string;
  if (json)
    io.out(
      `${JSON.stringify({ event: "listening", env: info.envKey, url, port: Number(new URL(url).port), image, container: running.containerId })}\n`,
    );
  else io.out(`openenv: serving ${info.envKey} on ${url} (image ${image}, container ${running.containerId?.slice(0, 12)})\n`);
  return stopped;
}
