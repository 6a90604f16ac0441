import { parseArgs } from "node:util";
import { bundledEnvironments } from "../envs/bundled.js";
import type { OpenEnvSurfaceOptions } from "../server/openenv/index.js";
import { serve } from "../server/serve.js";

const usage = `Usage: openenv <command> [options]

Commands:
  serve NAME   Serve a bundled environment (${Object.keys(bundledEnvironments).join(", ")})

Options of serve:
  --port N            TCP port (default 8000; 0 picks a free one)
  --host HOST         interface to bind (default 127.0.0.1; 0.0.0.0 for all)
  --max-sessions N    most sessions at once (default 64)
  --idle-timeout S    close sessions idle for S seconds (default 600; 0 never)
  --mode MODE         OpenEnv mode: simulation (default; HTTP /reset /step /state)
                      or production (without them)
  --no-openenv        do not serve OpenEnv's HTTP/JSON + WebSocket protocol
`;

/** Runs the CLI with the given arguments; resolves to the process exit code. */
export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(usage);
    return command === undefined ? 2 : 0;
  }
  if (command !== "serve") {
    process.stderr.write(`openenv: unknown command '${command}'\n\n${usage}`);
    return 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      port: { type: "string", default: "8000" },
      host: { type: "string", default: "127.0.0.1" },
      "max-sessions": { type: "string" },
      "idle-timeout": { type: "string" },
      mode: { type: "string", default: "simulation" },
      "no-openenv": { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const name = positionals[0];
  const load = name === undefined ? undefined : bundledEnvironments[name];
  if (load === undefined) {
    process.stderr.write(`openenv serve: unknown environment '${name ?? ""}'. Available: ${Object.keys(bundledEnvironments).join(", ")}\n`);
    return 2;
  }
  const mode = values.mode === "production" ? "production" : values.mode === "simulation" ? "simulation" : undefined;
  if (mode === undefined) {
    process.stderr.write(`openenv serve: invalid --mode '${values.mode ?? ""}': simulation or production\n`);
    return 2;
  }
  const openenv: OpenEnvSurfaceOptions | false = values["no-openenv"] ? false : { mode };
  const server = await serve(await load(), {
    openenv,
    port: Number(values.port),
    host: values.host,
    maxSessions: values["max-sessions"] === undefined ? undefined : Number(values["max-sessions"]),
    idleTimeoutMs: values["idle-timeout"] === undefined ? undefined : Number(values["idle-timeout"]) * 1000,
  });
  const protocols = openenv === false ? "" : `; OpenEnv HTTP/JSON and WebSocket ${server.url.replace("http", "ws")}/ws, ${mode} mode`;
  process.stdout.write(`openenv: serving ${name} on ${server.url} (Connect, gRPC, gRPC-Web; h2c and HTTP/1.1${protocols})\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.stdout.write("openenv: shutting down\n");
      void server.close().then(resolve);
    };
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  return 0;
}
