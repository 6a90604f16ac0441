/**
 * Steps/s of an echo rollout: the Python SDK (blocking and asyncio clients; gRPC, Debian grpcio) next to the
 * TypeScript EnvClient (Connect and gRPC), against one `openenv serve echo`
 * process, interleaved round by round so both see the same machine load.
 *
 *   npx tsx bench/python-vs-ts.ts [steps=5000] [rounds=3]
 *
 * Sequential steps (one in flight) over each client's one bidi Step stream.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
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

const { url, child } = await startServer();
const results: Record<string, number[]> = {
  "python EnvClient, gRPC": [],
  "python AsyncEnvClient, gRPC": [],
  "typescript EnvClient, Connect": [],
  "typescript EnvClient, gRPC": [],
};
try {
  for (let round = 0; round < rounds; round++) {
    results["python EnvClient, gRPC"]?.push(await pyRollout(url, "sync"));
    results["python AsyncEnvClient, gRPC"]?.push(await pyRollout(url, "async"));
    results["typescript EnvClient, Connect"]?.push(await tsRollout(url, "connect"));
    results["typescript EnvClient, gRPC"]?.push(await tsRollout(url, "grpc"));
  }
} finally {
  child.kill("SIGTERM");
}
console.log(`echo rollout, ${steps} sequential steps per run, ${rounds} interleaved rounds, server: openenv serve echo (${url})`);
for (const [name, values] of Object.entries(results)) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
  console.log(`${name.padEnd(32)} median ${median.toFixed(0).padStart(5)} steps/s   runs: ${values.map((v) => v.toFixed(0)).join(", ")}`);
}
