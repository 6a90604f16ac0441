/**
 * Steps/s of an echo rollout by client language, against one `openenv serve echo` process,
 * interleaved round by round so every client sees the same machine load:
 * the Go client (examples/go/rollout -bench: clients/go envclient, Debian's grpc-go), the Python
 * SDK (blocking and asyncio clients; gRPC, Debian's grpcio) and the TypeScript EnvClient (Connect
 * and gRPC).
 *
 *   npx tsx bench/languages.ts [steps=5000] [rounds=3]
 *
 * Sequential steps (one in flight) over each client's one bidi Step stream. Clients missing on
 * the machine (Go, grpcio) are left out and named.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { EnvClient } from "../src/client/env-client.js";
import type { RpcTransportKind } from "../src/client/transports.js";
import { echoSpec } from "../src/envs/echo/environment.js";

const repo = join(import.meta.dirname, "..");
const steps = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 3);
const run = promisify(execFile);

async function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(repo, "bin", "openenv.js"), "serve", "echo", "--port", "0"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const match = /serving \S+ on (http:\/\/\S+)/.exec(line);
    if (match?.[1] !== undefined) return { url: match[1], child };
  }
  throw new Error("openenv serve echo printed no URL");
}

async function tsRollout(url: string, transport: RpcTransportKind): Promise<number> {
  await using env = await EnvClient.connect({ baseUrl: url, spec: echoSpec, transport });
  const rollout = async (n: number): Promise<void> => {
    let r = await env.reset();
    for (let i = 0; i < n && !r.done; i++) r = await env.step({ message: "ping" });
    if (r.observation.echoedMessage !== "ping") throw new Error("unexpected observation");
  };
  await rollout(300); // warm-up
  const start = performance.now();
  await rollout(steps);
  return steps / ((performance.now() - start) / 1000);
}

async function pyRollout(url: string, mode: "sync" | "async"): Promise<number> {
  const { stdout } = await run("/usr/bin/python3", [join(repo, "bench", "python_echo_rollout.py"), url, String(steps), mode]);
  return (JSON.parse(stdout.trim()) as { steps_per_s: number }).steps_per_s;
}

/** Builds examples/go/rollout (GOPATH mode, offline); undefined when Go is not installed. */
async function buildGo(dir: string): Promise<string | undefined> {
  if (spawnSync("go", ["version"]).status !== 0) return undefined;
  const binary = join(dir, "rollout");
  const env = { ...process.env, GOPATH: `${join(repo, "clients", "go")}:/usr/share/gocode`, GO111MODULE: "off", GOPROXY: "off" };
  await run("go", ["build", "-o", binary, "./examples/go/rollout"], { cwd: repo, env, timeout: 600_000 });
  return binary;
}

async function goRollout(binary: string, url: string): Promise<number> {
  const { stdout } = await run(binary, ["-addr", url.replace(/^http:\/\//, ""), "-bench", String(steps)]);
  return (JSON.parse(stdout.trim()) as { steps_per_s: number }).steps_per_s;
}

const dir = mkdtempSync(join(tmpdir(), "openenv-bench-languages-"));
const go = await buildGo(dir);
const python = spawnSync("/usr/bin/python3", ["-c", "import grpc, google.protobuf"]).status === 0;
const { url, child } = await startServer();
const clients: Record<string, () => Promise<number>> = {
  ...(go === undefined ? {} : { "go envclient, gRPC (grpc-go 1.33)": () => goRollout(go, url) }),
  ...(python
    ? { "python EnvClient, gRPC": () => pyRollout(url, "sync"), "python AsyncEnvClient, gRPC": () => pyRollout(url, "async") }
    : {}),
  "typescript EnvClient, Connect": () => tsRollout(url, "connect"),
  "typescript EnvClient, gRPC": () => tsRollout(url, "grpc"),
};
const results: Record<string, number[]> = Object.fromEntries(Object.keys(clients).map((k) => [k, []]));
const load = loadavg()[0] ?? 0;
try {
  for (let round = 0; round < rounds; round++) {
    for (const [name, measure] of Object.entries(clients)) results[name]?.push(await measure());
  }
} finally {
  child.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
console.log(`echo rollout, ${steps} sequential steps per run, ${rounds} interleaved rounds, server: openenv serve echo (${url})`);
console.log(`load average at the start: ${load.toFixed(1)} (1 min), end: ${(loadavg()[0] ?? 0).toFixed(1)}`);
if (go === undefined) console.log("go: not installed, left out");
if (!python) console.log("python grpcio: not installed, left out");
for (const [name, values] of Object.entries(results)) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  console.log(`${name.padEnd(36)} median ${median.toFixed(0).padStart(5)} steps/s   runs: ${values.map((v) => v.toFixed(0)).join(", ")}`);
}
