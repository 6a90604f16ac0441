// `npm run bench [-- --quick] [-- --target URL] [-- --only group,...]`
// Measures steps/s and latency of every transport against floors measured in
// the same run, writes a table to stdout, JSON and an SVG chart to bench/results/.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { EnvironmentService } from "../gen/openenv/v1/environment_service_pb.js";
import { createTransport } from "../src/client/transports.js";
import { renderChart } from "./chart.js";
import {
  directSessions,
  h2FloorSessions,
  inProcessSessions,
  rpcSessions,
  type Sessions,
  unaryH1Sessions,
  wsFloorSessions,
} from "./clients.js";
import { closedLoop, quantile, type ServerProcess, startServer } from "./harness.js";
import { httpSessions, wsSessions } from "./openenv-clients.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    target: { type: "string" },
    only: { type: "string" },
    seconds: { type: "string" },
    out: { type: "string", default: "bench/results" },
  },
});
const quick = args.quick === true;
const seconds = args.seconds !== undefined ? Number(args.seconds) : quick ? 0.3 : 3;
const warmup = quick ? 20 : 300;
const only = args.only?.split(",");
const want = (group: string): boolean => only === undefined || only.includes(group);

/** One row of the results. */
export interface Row {
  group: string;
  name: string;
  sessions: number;
  connections: string;
  steps: number;
  stepsPerSec: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  serverCpuUsPerStep: number | null;
  serverRssMb: number | null;
  floor: string | null;
  vsFloor: number | null;
  note?: string;
}

const rows: Row[] = [];
const floors = new Map<string, number>();

async function measure(
  group: string,
  name: string,
  open: () => Promise<Sessions>,
  opts: { server?: ServerProcess; sessions?: number; connections?: string; floor?: string; note?: string } = {},
): Promise<Row> {
  const sessions = await open();
  const before = opts.server ? await opts.server.stats() : undefined;
  const result = await closedLoop(sessions.steps, seconds, warmup);
  const after = opts.server ? await opts.server.stats() : undefined;
  await sessions.close();
  const stepsPerSec = result.steps / result.seconds;
  const floorValue = opts.floor !== undefined ? floors.get(opts.floor) : undefined;
  const row: Row = {
    group,
    name,
    sessions: opts.sessions ?? sessions.steps.length,
    connections: opts.connections ?? (sessions.steps.length > 1 ? "shared" : "1"),
    steps: result.steps,
    stepsPerSec,
    p50Us: quantile(result.latencies, 0.5),
    p90Us: quantile(result.latencies, 0.9),
    p99Us: quantile(result.latencies, 0.99),
    // The warm-up is excluded: stats are read around the timed loop only.
    serverCpuUsPerStep: before && after ? (after.cpuUs - before.cpuUs) / result.steps : null,
    serverRssMb: after ? after.rss / 2 ** 20 : null,
    floor: opts.floor ?? null,
    vsFloor: floorValue !== undefined ? stepsPerSec / floorValue : null,
    note: opts.note,
  };
  rows.push(row);
  printRow(row);
  return row;
}

function printHeader(): void {
  console.log(
    `${"group".padEnd(10)} ${"case".padEnd(34)} ${"sess".padStart(5)} ${"conns".padStart(6)} ${"steps/s".padStart(9)} ${"p50µs".padStart(7)} ${"p90µs".padStart(7)} ${"p99µs".padStart(7)} ${"srvCPUµs".padStart(8)} ${"RSS MB".padStart(7)}  vs floor`,
  );
}

function printRow(r: Row): void {
  const f = (v: number | null, d = 0): string => (v === null || Number.isNaN(v) ? "-" : v.toFixed(d));
  const ratio = r.vsFloor === null ? "" : `${r.vsFloor.toFixed(2)} × ${r.floor}`;
  console.log(
    `${r.group.padEnd(10)} ${r.name.padEnd(34)} ${String(r.sessions).padStart(5)} ${r.connections.padStart(6)} ${f(r.stepsPerSec).padStart(9)} ${f(r.p50Us).padStart(7)} ${f(r.p90Us).padStart(7)} ${f(r.p99Us).padStart(7)} ${f(r.serverCpuUsPerStep, 1).padStart(8)} ${f(r.serverRssMb).padStart(7)}  ${ratio}${r.note ? `  (${r.note})` : ""}`,
  );
}

async function floorsGroup(): Promise<void> {
  const ws = await startServer("ws-floor");
  const h2 = await startServer("h2-floor");
  try {
    const w = await measure("floor", "raw ws ping-pong", () => wsFloorSessions(ws.url, 1), { server: ws });
    floors.set("ws", w.stepsPerSec);
    const h = await measure("floor", "raw http2 stream ping-pong", () => h2FloorSessions(h2.url, 1, true), { server: h2 });
    floors.set("h2", h.stepsPerSec);
  } finally {
    await Promise.all([ws.stop(), h2.stop()]);
  }
}

async function protocolsGroup(): Promise<void> {
  await measure("protocol", "direct Session.step (no protocol)", () => directSessions(1));
  await measure("protocol", "in-process Connect transport", () => inProcessSessions(1));
  const server = await startServer("echo");
  try {
    for (const kind of ["connect", "connect-json", "grpc", "grpc-web"] as const) {
      await measure("protocol", `${kind} bidi (h2c)`, () => rpcSessions(server.url, kind, 1, true), { server, floor: "h2" });
    }
    await measure("protocol", "connect unary State (HTTP/1.1)", () => unaryH1Sessions(server.url, 1), {
      server,
      floor: "h2",
      note: "Step is streaming-only; unary cost shown with State",
    });
  } finally {
    await server.stop();
  }
}

async function sessionsGroup(): Promise<void> {
  const counts = quick ? [1, 16] : [1, 16, 64, 256];
  const server = await startServer("echo");
  const h2 = await startServer("h2-floor");
  try {
    for (const n of counts) {
      await measure("sessions", "raw http2 floor", () => h2FloorSessions(h2.url, n, true), { server: h2, connections: "shared" });
      await measure("sessions", "connect bidi, one h2 connection", () => rpcSessions(server.url, "connect", n, true), {
        server,
        connections: "shared",
        floor: "h2",
      });
      await measure("sessions", "connect bidi, a connection each", () => rpcSessions(server.url, "connect", n, false), {
        server,
        connections: String(n),
        floor: "h2",
      });
    }
  } finally {
    await Promise.all([server.stop(), h2.stop()]);
  }
}

async function largeGroup(): Promise<void> {
  const sizes = quick ? [100 * 1024] : [100 * 1024, 1024 * 1024];
  const server = await startServer("frames");
  try {
    for (const size of sizes) {
      const label = size >= 1024 * 1024 ? `${size / 1024 / 1024} MB` : `${size / 1024} KB`;
      await measure("large", `${label} frame, protobuf bytes (connect)`, () => rpcSessions(server.url, "connect", 1, true, size), {
        server,
      });
      await measure("large", `${label} frame, OpenEnv JSON int list (/ws)`, () => wsSessions(server.url, 1, { size, as_ints: true }), {
        server,
      });
    }
  } finally {
    await server.stop();
  }
}

/** OpenEnv's protocol on our server, and (with --target) on another implementation, with the same client. */
async function openenvGroup(): Promise<void> {
  const server = await startServer("echo");
  const counts = quick ? [1] : [1, 16];
  try {
    for (const n of counts) {
      await measure("openenv", "OpenEnv /ws (ours)", () => wsSessions(server.url, n), { server, floor: "ws", connections: String(n) });
    }
    await measure("openenv", "OpenEnv HTTP /step stateless (ours)", () => httpSessions(server.url, 1, false), { server, floor: "ws" });
    await measure("openenv", "OpenEnv HTTP /step stateful (ours)", () => httpSessions(server.url, 1, true), { server, floor: "ws" });
  } finally {
    await server.stop();
  }
  const target = args.target;
  if (target !== undefined) {
    for (const n of counts) {
      await measure("openenv", `OpenEnv /ws (${target})`, () => wsSessions(target, n), { floor: "ws", connections: String(n) });
    }
    await measure("openenv", `OpenEnv HTTP /step (${target})`, () => httpSessions(target, 1, false), { floor: "ws" });
  }
}

async function idleGroup(): Promise<void> {
  const n = quick ? 500 : 10_000;
  const server = await startServer("echo");
  try {
    await server.gc();
    const before = await server.stats();
    const owned = createTransport({ kind: "connect", baseUrl: server.url });
    const client = createClient(EnvironmentService, owned.transport);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < n) {
          next++;
          await client.reset({});
        }
      }),
    );
    const openSeconds = (performance.now() - t0) / 1000;
    await server.gc();
    const after = await server.stats();
    owned.close();
    const perSession = (after.rss - before.rss) / n;
    const row: Row = {
      group: "idle",
      name: `${n} idle sessions: RSS per session`,
      sessions: n,
      connections: "1",
      steps: n,
      stepsPerSec: n / openSeconds,
      p50Us: Number.NaN,
      p90Us: Number.NaN,
      p99Us: Number.NaN,
      serverCpuUsPerStep: (after.cpuUs - before.cpuUs) / n,
      serverRssMb: after.rss / 2 ** 20,
      floor: null,
      vsFloor: null,
      note: `${(perSession / 1024).toFixed(1)} KB/session; steps/s = unary Resets/s while opening`,
    };
    rows.push(row);
    printRow(row);
  } finally {
    await server.stop();
  }
}

/** The issue's targets, as ratios computed from this run's rows. */
function printTargets(): void {
  const find = (group: string, name: string, sessions = 1, connections?: string) =>
    rows.find(
      (r) =>
        r.group === group && r.name === name && r.sessions === sessions && (connections === undefined || r.connections === connections),
    );
  const lines: string[] = [];
  const check = (label: string, value: number | undefined, goal: number, unit: string): void => {
    if (value === undefined || Number.isNaN(value)) return;
    lines.push(`  ${value >= goal ? "met   " : "MISSED"} ${label}: ${value.toFixed(2)}${unit} (target ${goal}${unit})`);
  };
  const h2 = floors.get("h2");
  const ws = floors.get("ws");
  const grpc = find("protocol", "grpc bidi (h2c)");
  const connect = find("protocol", "connect bidi (h2c)");
  // Issue 12's targets: one-session bidi >= 0.75x the HTTP/2 floor, /ws >= 0.6x the ws floor,
  // server CPU per echo step <= 35 us (binary) and <= 45 us (/ws), HTTP /step >= 4x OpenEnv's.
  if (h2 !== undefined) {
    check("gRPC bidi, 1 session vs raw HTTP/2 ping-pong", grpc && grpc.stepsPerSec / h2, 0.75, "×");
    check("Connect bidi, 1 session vs raw HTTP/2 ping-pong", connect && connect.stepsPerSec / h2, 0.75, "×");
  }
  const ours = find("openenv", "OpenEnv /ws (ours)", 1);
  if (ws !== undefined) check("OpenEnv /ws on our server vs raw ws ping-pong", ours && ours.stepsPerSec / ws, 0.6, "×");
  const atMost = (label: string, value: number | null | undefined, goal: number): void => {
    if (value === null || value === undefined || Number.isNaN(value)) return;
    lines.push(`  ${value <= goal ? "met   " : "MISSED"} ${label}: ${value.toFixed(1)} µs (target ≤ ${goal} µs)`);
  };
  atMost("server CPU per step, gRPC bidi", grpc?.serverCpuUsPerStep, 35);
  atMost("server CPU per step, Connect bidi", connect?.serverCpuUsPerStep, 35);
  atMost("server CPU per step, OpenEnv /ws", ours?.serverCpuUsPerStep, 45);
  const other = rows.find(
    (r) => r.group === "openenv" && r.name.startsWith("OpenEnv /ws (") && !r.name.includes("ours") && r.sessions === 1,
  );
  if (ours && other) check(`OpenEnv /ws, ours vs ${other.name}`, ours.stepsPerSec / other.stepsPerSec, 3, "×");
  // HTTP /step >= 4x OpenEnv's: against the --target server's HTTP /step when this run measured one,
  // else against OpenEnv's Python server as measured on this machine type (1,045 steps/s).
  const httpOurs = find("openenv", "OpenEnv HTTP /step stateless (ours)")?.stepsPerSec;
  const httpOther = rows.find((r) => r.group === "openenv" && r.name.startsWith("OpenEnv HTTP /step (") && r.sessions === 1);
  if (httpOther !== undefined)
    check(`HTTP /step (stateless), ours vs ${httpOther.name}`, httpOurs && httpOurs / httpOther.stepsPerSec, 4, "×");
  else check("HTTP /step (stateless) steps/s (4 × OpenEnv's 1,045)", httpOurs, 4180, "");
  check(
    "64 sessions on one HTTP/2 connection, steps/s",
    find("sessions", "connect bidi, one h2 connection", 64, "shared")?.stepsPerSec,
    20000,
    "",
  );
  const pb = find("large", "1 MB frame, protobuf bytes (connect)");
  const js = find("large", "1 MB frame, OpenEnv JSON int list (/ws)");
  if (pb && js) check("1 MB observation, protobuf vs JSON int list", pb.stepsPerSec / js.stepsPerSec, 10, "×");
  const idle = rows.find((r) => r.group === "idle");
  const kb = idle?.note !== undefined ? Number(/^([\d.]+) KB/.exec(idle.note)?.[1]) : undefined;
  if (kb !== undefined) lines.push(`  ${kb <= 50 ? "met   " : "MISSED"} RSS per idle session: ${kb.toFixed(1)} KB (target ≤ 50 KB)`);
  if (lines.length > 0) console.log(`\ntargets (ratios from this run):\n${lines.join("\n")}`);
}

const started = new Date();
console.log(
  `openenv-connect bench ${quick ? "(quick) " : ""}— ${started.toISOString()} — node ${process.version}, ${cpus().length} CPUs, ${seconds}s per case`,
);
printHeader();
if (want("floor") || want("protocol") || want("sessions") || want("openenv")) await floorsGroup();
if (want("protocol")) await protocolsGroup();
if (want("sessions")) await sessionsGroup();
if (want("openenv")) await openenvGroup();
if (want("large")) await largeGroup();
if (want("idle")) await idleGroup();
printTargets();

mkdirSync(args.out, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, "-");
const report = {
  started: started.toISOString(),
  node: process.version,
  cpus: cpus().length,
  quick,
  seconds,
  floors: Object.fromEntries(floors),
  rows,
};
writeFileSync(`${args.out}/${stamp}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${args.out}/${stamp}.svg`, renderChart(report));
console.log(`\nwrote ${args.out}/${stamp}.json and ${args.out}/${stamp}.svg`);
