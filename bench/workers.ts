// `npm run bench:workers [-- --env echo|busy|both] [-- --servers single,1,2] [-- --rounds R]
//                        [-- --seconds S] [-- --connections N] [-- --clients P] [-- --quick]`
//
// Multi-core measurement: an environment served by `openenv serve` as one
// process, with `--workers 1` and with `--workers 2`; N connections (one session
// each, a sequential step loop per session) driven from P client processes of
// their own. Reports total steps/s and the CPU each server process used (from
// /proc/<pid>/stat), which shows whether both cores serve, and the CPU the
// clients and every other process of the machine used meanwhile (/proc/stat):
// clients and server share the machine's cores, and so do other users.
// `echo` costs the server next to nothing per step (protocol-bound); `busy`
// (bench/busy) adds fixed CPU work per step (server-bound). Every server stays
// up for the whole run; rounds alternate between them, and the table shows the
// median round of each (with the range of steps/s over the rounds).
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string" },
    rounds: { type: "string" },
    connections: { type: "string", default: "16" },
    clients: { type: "string", default: "2" },
    transport: { type: "string", default: "grpc" },
    env: { type: "string", default: "both" },
    servers: { type: "string", default: "single,1,2" },
    quick: { type: "boolean", default: false },
    out: { type: "string", default: "bench/results" },
  },
});
const quick = args.quick === true;
const seconds = Number(args.seconds ?? (quick ? 1 : 4));
const rounds = Number(args.rounds ?? (quick ? 1 : 3));
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

/** CPU seconds the whole machine spent busy (all cores, all processes), from /proc/stat. */
function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] as string;
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / ticks;
}

interface Server {
  readonly env: string;
  readonly label: string;
  readonly url: string;
  readonly processes: Array<{ name: string; pid: number }>;
  stop(): Promise<void>;
}

async function startServer(env: string, label: string, extra: string[]): Promise<Server> {
  const target = env === "busy" ? join(import.meta.dirname, "busy") : env;
  const child = spawn(
    process.execPath,
    [bin, "serve", target, "--port", "0", "--json", "--max-sessions", "4096", "--idle-timeout", "0", ...extra],
    { cwd: root, stdio: ["ignore", "pipe", "ignore"] },
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
    void exited.then(() => reject(new Error(`the ${env} server (${label}) exited`)));
  });
  const processes = [{ name: listening.workers === undefined ? "server" : "primary", pid: listening.pid }];
  for (const w of listening.workers ?? []) processes.push({ name: `worker ${w.id}`, pid: w.pid });
  return {
    env,
    label,
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

/** One round against one server: fresh client processes and connections. */
async function measure(server: Server) {
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
  const busyBefore = machineBusySeconds();
  const t0 = performance.now();
  for (const c of children) c.send({ type: "go" });
  const results = (await done) as unknown as ClientResult[];
  const wall = (performance.now() - t0) / 1000;
  const after = server.processes.map((p) => cpuSeconds(p.pid));
  const busy = machineBusySeconds() - busyBefore;
  await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r)))));
  const steps = results.reduce((s, r) => s + r.steps, 0);
  const clientWall = Math.max(...results.map((r) => r.wall));
  const perProcess = server.processes.map((p, i) => ({
    name: p.name,
    pid: p.pid,
    cpuPercent: (100 * ((after[i] as number) - (before[i] as number))) / wall,
  }));
  const serverCpu = perProcess.reduce((s, p) => s + p.cpuPercent, 0);
  const clientCpu = (100 * results.reduce((s, r) => s + r.cpuSeconds, 0)) / clientWall;
  const spread: Record<string, number> = {};
  for (const o of owners) spread[o] = (spread[o] ?? 0) + 1;
  return {
    steps,
    stepsPerSec: steps / clientWall,
    p50Ms: median(results.map((r) => r.p50)),
    p99Ms: Math.max(...results.map((r) => r.p99)),
    serverCpuPercent: serverCpu,
    serverCpuUsPerStep: ((serverCpu / 100) * wall * 1e6) / steps,
    serverProcesses: perProcess,
    clientCpuPercent: clientCpu,
    otherCpuPercent: Math.max(0, (100 * busy) / wall - serverCpu - clientCpu),
    sessionsPerWorker: spread,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const configs: Array<[string, string[]]> = (args.servers as string)
  .split(",")
  .map((s): [string, string[]] => (s === "single" ? ["single process (serve)", []] : [`--workers ${s}`, ["--workers", s]]));
const envs = args.env === "both" ? ["echo", "busy"] : [args.env as string];
const servers: Server[] = [];
for (const env of envs) for (const [label, extra] of configs) servers.push(await startServer(env, label, extra));
const runs = new Map<Server, Array<Awaited<ReturnType<typeof measure>>>>(servers.map((s) => [s, []]));
try {
  for (let round = 0; round < rounds; round++) {
    // Rotate the order, so that no configuration always runs first (or after the same one).
    const order = servers.map((_, i) => servers[(i + round) % servers.length] as Server);
    for (const server of order) {
      process.stderr.write(`round ${round + 1}/${rounds}: ${server.env}, ${server.label} ...\n`);
      runs.get(server)?.push(await measure(server));
    }
  }
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}

const fmt = (n: number, d = 0): string => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(
  `${connections} connections (1 session each, sequential steps, ${args.transport}) from ${clientProcs} client processes; ` +
    `${rounds} round(s) of ${seconds} s per server, median round shown; ${availableParallelism()} cores shared by clients, server and other users\n`,
);
console.log(
  "| env | server | steps/s (range) | p50 ms | p99 ms | server CPU per process | server | server µs/step | clients | others | sessions |",
);
console.log("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|");
const rows = [];
for (const server of servers) {
  const all = runs.get(server) ?? [];
  const sorted = [...all].sort((a, b) => a.stepsPerSec - b.stepsPerSec);
  const r = sorted[Math.floor(sorted.length / 2)];
  if (r === undefined) continue;
  rows.push({ env: server.env, server: server.label, median: r, rounds: all });
  const per = r.serverProcesses.map((p) => `${p.name} ${fmt(p.cpuPercent)}%`).join(", ");
  const spread = Object.entries(r.sessionsPerWorker)
    .map(([w, n]) => (w === "single" ? `${n}` : `w${w}: ${n}`))
    .join(", ");
  const range = sorted.length > 1 ? ` (${fmt(sorted[0]?.stepsPerSec ?? 0)}–${fmt(sorted.at(-1)?.stepsPerSec ?? 0)})` : "";
  console.log(
    `| ${server.env} | ${server.label} | ${fmt(r.stepsPerSec)}${range} | ${fmt(r.p50Ms, 2)} | ${fmt(r.p99Ms, 2)} | ${per} | ` +
      `${fmt(r.serverCpuPercent)}% | ${fmt(r.serverCpuUsPerStep)} | ${fmt(r.clientCpuPercent)}% | ${fmt(r.otherCpuPercent)}% | ${spread} |`,
  );
}
mkdirSync(args.out as string, { recursive: true });
const file = join(args.out as string, `workers-${new Date().toISOString().replaceAll(":", "-")}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ ticks, cores: availableParallelism(), connections, clientProcesses: clientProcs, seconds, rounds, rows }, null, 2)}\n`,
);
console.log(`\nJSON: ${file}`);
