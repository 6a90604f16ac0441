/**
 * What `openenv gateway` adds to a step: the same echo rollout straight to an OpenEnv server's
 * `/ws`, and through the gateway (gRPC to the gateway, `/ws` from the gateway to the server),
 * for two upstreams: `openenv serve echo` and the Python stand-in of OpenEnv's server
 * (test/compat/openenv_standin.py, asyncio + websockets). Every server and gateway runs in a
 * process of its own; this process is the client. Rounds are interleaved so every row sees the
 * same machine load; the direct `/ws` rows are the floors the gateway rows are compared with.
 *
 *   npx tsx bench/gateway.ts [steps=3000] [rounds=3]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { EnvClient, type EnvClientOptions } from "../src/client/env-client.js";
import { echoSpec } from "../src/envs/echo/environment.js";
import { upstreamEnvironment } from "../src/gateway/index.js";

const repo = join(import.meta.dirname, "..");
const steps = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 3);
const children: ChildProcess[] = [];

/** Starts a process and resolves with the first URL its stdout announces. */
async function start(command: string, args: string[], pattern: RegExp): Promise<string> {
  const child = spawn(command, args, { cwd: repo, stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const match = pattern.exec(line);
    if (match?.[1] !== undefined) return match[1];
  }
  throw new Error(`${command} ${args.join(" ")} printed no URL`);
}

const cli = (args: string[], pattern: RegExp) => start(process.execPath, [join(repo, "bin", "openenv.js"), ...args], pattern);
const ours = await cli(["serve", "echo", "--port", "0"], /serving \S+ on (http:\/\/\S+)/);
const standin = `${await start("/usr/bin/python3", [join(repo, "test", "compat", "openenv_standin.py"), "--port", "0"], /listening (http:\/\/\S+)/)}/envs/echo`;
const gatewayOurs = await cli(["gateway", ours, "--port", "0", "--json", "--package", "openenv.envs.echo.v1"], /"url":"(http:\/\/[^"]+)"/);
const gatewayPython = await cli(["gateway", standin, "--port", "0", "--json"], /"url":"(http:\/\/[^"]+)"/);
const pythonTypes = (await upstreamEnvironment(standin)).spec;

interface Row {
  readonly name: string;
  readonly options: EnvClientOptions;
}
const rows: Row[] = [
  { name: "openenv serve echo, gRPC (no gateway)", options: { baseUrl: ours, spec: echoSpec, transport: "grpc" } },
  { name: "openenv serve echo, /ws", options: { baseUrl: ours, spec: echoSpec, transport: "websocket" } },
  { name: "gateway -> openenv serve echo /ws, gRPC", options: { baseUrl: gatewayOurs, spec: echoSpec, transport: "grpc" } },
  { name: "python stand-in echo, /ws", options: { baseUrl: standin, spec: pythonTypes, transport: "websocket" } },
  { name: "gateway -> python stand-in /ws, gRPC", options: { baseUrl: gatewayPython, transport: "grpc" } },
];

/** Per-step latencies (µs) of `steps` sequential echo steps on one session. */
async function measure(row: Row): Promise<{ perSecond: number; latencies: number[] }> {
  await using env = await EnvClient.connect(row.options);
  await env.reset();
  for (let i = 0; i < 200; i++) await env.step({ message: "warm-up" } as never);
  const latencies: number[] = [];
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const r = await env.step({ message: "ping" } as never);
    latencies.push((performance.now() - t0) * 1000);
    if ((r.observation as unknown as { echoedMessage: string }).echoedMessage !== "ping") throw new Error(`${row.name}: wrong echo`);
  }
  return { perSecond: steps / ((performance.now() - start) / 1000), latencies };
}

const results = new Map<string, { perSecond: number[]; latencies: number[] }>(rows.map((r) => [r.name, { perSecond: [], latencies: [] }]));
const load = loadavg()[0] ?? 0;
try {
  for (let round = 0; round < rounds; round++) {
    for (const row of rows) {
      const m = await measure(row);
      const acc = results.get(row.name) as { perSecond: number[]; latencies: number[] };
      acc.perSecond.push(m.perSecond);
      acc.latencies.push(...m.latencies);
    }
  }
} finally {
  for (const c of children) c.kill("SIGTERM");
}

const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? Number.NaN;
const quantile = (v: number[], q: number): number =>
  [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))] ?? Number.NaN;
const stats = new Map(
  [...results].map(([name, r]) => [
    name,
    { steps: median(r.perSecond), p50: quantile(r.latencies, 0.5), p99: quantile(r.latencies, 0.99) },
  ]),
);
console.log(
  `echo, ${steps} sequential steps per run, ${rounds} interleaved rounds; load average ${load.toFixed(1)} -> ${(loadavg()[0] ?? 0).toFixed(1)}`,
);
console.log(`${"".padEnd(42)} ${"steps/s".padStart(8)} ${"p50 µs".padStart(8)} ${"p99 µs".padStart(8)}`);
for (const [name, s] of stats) {
  console.log(`${name.padEnd(42)} ${s.steps.toFixed(0).padStart(8)} ${s.p50.toFixed(0).padStart(8)} ${s.p99.toFixed(0).padStart(8)}`);
}
for (const [via, direct] of [
  ["gateway -> openenv serve echo /ws, gRPC", "openenv serve echo, /ws"],
  ["gateway -> python stand-in /ws, gRPC", "python stand-in echo, /ws"],
] as const) {
  const g = stats.get(via);
  const d = stats.get(direct);
  if (g === undefined || d === undefined) continue;
  console.log(
    `added by the gateway in front of ${direct.replace(", /ws", "")}: p50 +${(g.p50 - d.p50).toFixed(0)} µs per step, ` +
      `steps/s ${(g.steps / d.steps).toFixed(2)}x the direct /ws floor`,
  );
}
