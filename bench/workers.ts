// `npm run bench:workers [-- --env echo|busy|both] [-- --seconds S] [-- --connections N] [-- --clients P] [-- --quick]`
//
// Multi-core measurement: an environment served by `openenv serve` as one
// process, with `--workers 1` and with `--workers 2`; N connections (one session
// each, a sequential step loop per session) driven from P separate client
// processes. Reports total steps/s and the CPU each server process used (from
// /proc/<pid>/stat), which shows whether both cores serve. Client and server
// share the machine's cores: read the client CPU column next to the server's.
// `echo` costs the server next to nothing per step (protocol-bound); `busy`
// (bench/busy) adds fixed CPU work per step (server-bound).
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string" },
    connections: { type: "string", default: "16" },
    clients: { type: "string", default: "2" },
    transport: { type: "string", default: "grpc" },
    env: { type: "string", default: "both" },
    quick: { type: "boolean", default: false },
    out: { type: "string", default: "bench/results" },
  },
});
const seconds = Number(args.seconds ?? (args.quick ? 1 : 5));
const connections = Number(args.connections);
const clientProcs = Number(args.clients);
const root = join(import.meta.dirname, "..");
const bin = join(root, "bin", "openenv.js");
const clientScript = join(import.meta.dirname, "workers-client.ts");
const ticks = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / ticks; // utime, stime (fields 14, 15)
  } catch {
    return Number.NaN;
  }
}

interface Server {
  url: string;
  processes: Array<{ name: string; pid: number }>;
  stop(): Promise<void>;
}

async function startServer(env: string, extra: string[]): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      bin,
      "serve",
      env === "busy" ? join(import.meta.dirname, "busy") : env,
      "--port",
      "0",
      "--json",
      "--max-sessions",
      "4096",
      "--idle-timeout",
      "0",
      ...extra,
    ],
    { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise((r) => child.once("exit", r));
  const listening = await new Promise<{ url: string; pid: number; workers?: Array<{ id: number; pid: number }> }>((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      try {
        const e = JSON.parse(line) as { event: string };
        if (e.event === "listening") resolve(e as never);
      } catch {
        // not JSON
      }
    });
    void exited.then(() => reject(new Error("the server exited")));
  });
  const processes = [{ name: listening.workers === undefined ? "server" : "primary", pid: listening.pid }];
  for (const w of listening.workers ?? []) processes.push({ name: `worker ${w.id}`, pid: w.pid });
  return {
    url: listening.url,
    processes,
    async stop() {
      child.kill("SIGTERM");
      await exited;
    },
  };
}

interface ClientResult {
  steps: number;
  wall: number;
  cpuSeconds: number;
  p50: number;
  p99: number;
}

async function measure(env: string, label: string, extra: string[]) {
  const server = await startServer(env, extra);
  const per = Array.from(
    { length: clientProcs },
    (_, i) => Math.floor(connections / clientProcs) + (i < connections % clientProcs ? 1 : 0),
  );
  const children = per.map((n) =>
    fork(clientScript, [server.url, String(n), String(seconds), args.transport as string], {
      execArgv: ["--import", "tsx"],
      stdio: "inherit",
    }),
  );
  const next = (c: ChildProcess, type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      c.on("message", (m: Record<string, unknown>) => {
        if (m.type === type) resolve(m);
      });
      c.once("exit", (code) => {
        if (code !== 0) reject(new Error(`client exited with ${code}`));
      });
    });
  const ready = await Promise.all(children.map((c) => next(c, "ready")));
  const owners = ready.flatMap((r) => r.owners as string[]);
  const done = Promise.all(children.map((c) => next(c, "done")));
  const before = server.processes.map((p) => cpuSeconds(p.pid));
  const t0 = performance.now();
  for (const c of children) c.send({ type: "go" });
  const results = (await done) as unknown as ClientResult[];
  const wall = (performance.now() - t0) / 1000;
  const after = server.processes.map((p) => cpuSeconds(p.pid));
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r)))));
  await server.stop();
  const steps = results.reduce((s, r) => s + r.steps, 0);
  const clientWall = Math.max(...results.map((r) => r.wall));
  const perProcess = server.processes.map((p, i) => ({
    name: p.name,
    pid: p.pid,
    cpuPercent: (100 * ((after[i] as number) - (before[i] as number))) / wall,
  }));
  const spread: Record<string, number> = {};
  for (const o of owners) spread[o] = (spread[o] ?? 0) + 1;
  return {
    env,
    label,
    args: extra.join(" "),
    connections,
    clientProcesses: clientProcs,
    seconds,
    steps,
    stepsPerSec: steps / clientWall,
    p50Ms: median(results.map((r) => r.p50)),
    p99Ms: Math.max(...results.map((r) => r.p99)),
    serverCpuPercent: perProcess.reduce((s, p) => s + p.cpuPercent, 0),
    serverProcesses: perProcess,
    clientCpuPercent: (100 * results.reduce((s, r) => s + r.cpuSeconds, 0)) / clientWall,
    sessionsPerWorker: spread,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const configs: Array<[string, string[]]> = [
  ["single process (serve)", []],
  ["--workers 1", ["--workers", "1"]],
  ["--workers 2", ["--workers", "2"]],
];
const envs = args.env === "both" ? ["echo", "busy"] : [args.env as string];
const rows = [];
for (const env of envs) {
  for (const [label, extra] of configs) {
    process.stderr.write(`measuring ${env}, ${label} ...\n`);
    rows.push(await measure(env, label, extra));
  }
}

const fmt = (n: number, d = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(
  `${connections} connections (1 session each, sequential steps, ${args.transport}) from ${clientProcs} client processes, ${seconds} s; ${availableParallelism()} cores shared by clients and server\n`,
);
console.log(
  "| env | server | steps/s | p50 ms | p99 ms | server CPU (per process) | server CPU total | client CPU | sessions per worker |",
);
console.log("|---|---|---:|---:|---:|---|---:|---:|---|");
for (const r of rows) {
  const per = r.serverProcesses.map((p) => `${p.name} ${fmt(p.cpuPercent)}%`).join(", ");
  const spread = Object.entries(r.sessionsPerWorker)
    .map(([w, n]) => (w === "single" ? `${n}` : `w${w}: ${n}`))
    .join(", ");
  console.log(
    `| ${r.env} | ${r.label} | ${fmt(r.stepsPerSec)} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${per} | ${fmt(r.serverCpuPercent)}% | ${fmt(r.clientCpuPercent)}% | ${spread} |`,
  );
}
mkdirSync(args.out as string, { recursive: true });
const file = join(args.out as string, `workers-${new Date().toISOString().replaceAll(":", "-")}.json`);
writeFileSync(file, `${JSON.stringify({ ticks, cores: availableParallelism(), rows }, null, 2)}\n`);
console.log(`\nJSON: ${file}`);
