// Scale test: 3 replicas (server processes with replica ids) behind HAProxy on loopback.
// Through the balancer, a VectorEnv of 192 sessions (gRPC Step streams), OpenEnv /ws
// sessions and stateful HTTP sessions step for the run, while connections are dropped
// and resumed (a TCP proxy in front of the balancer cuts them) and one replica is
// SIGKILLed mid-run, then started again on its port. Then, per replica: sessions, steps,
// the exactly-once audit (client acknowledgements against what each environment
// applied), the sessions lost with the killed replica (each must have reached its
// client as NOT_FOUND + SessionLost), and the new sessions it took after coming back.
//
//   npm run scale-test                  # 90 s
//   npm run scale-test -- --quick       # about 25 s of traffic (CI)
//   npm run scale-test -- --seconds 300 --sessions 192 --ws 16 --http 16
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { Code, ConnectError } from "@connectrpc/connect";
import { EnvClient, type EnvStepResult } from "../src/client/env-client.js";
import { VectorEnv } from "../src/client/vector-env.js";
import { replicaOf } from "../src/core/replica.js";
import { findSessionLost } from "../src/protocol/errors.js";
import { metricValue, scrape } from "../test/fixtures/prometheus.js";
import { startTcpProxy } from "../test/fixtures/tcp-proxy.js";
import { type Balancer, startHaproxy, type Upstream } from "./haproxy.js";
import { soakSpec } from "./soak-env.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    sessions: { type: "string", default: "192" },
    ws: { type: "string", default: "12" },
    http: { type: "string", default: "12" },
  },
});
const durationMs = values.seconds !== undefined ? Number(values.seconds) * 1000 : values.quick ? 25_000 : 90_000;
const vectorSize = Number(values.sessions);
const wsCount = Number(values.ws);
const httpCount = Number(values.http);
const root = path.resolve(import.meta.dirname, "..");
const ids = ["r1", "r2", "r3"] as const;
const victim = "r2";
const log = (m: string): void => {
  process.stderr.write(`scale: ${m}\n`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ replicas

interface Replica {
  readonly id: string;
  port: number;
  process: ChildProcess;
  exited: Promise<void>;
  url: string;
}
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => process.exit(130));

async function startReplica(id: string, port = 0): Promise<Replica> {
  const child = spawn(process.execPath, ["--import", "tsx", "soak/server.ts", "--replica-id", id, "--port", String(port)], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.add(child);
  const exited = new Promise<void>((r) =>
    child.once("exit", () => {
      children.delete(child);
      r();
    }),
  );
  const ready = await new Promise<{ url: string; port: number }>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) resolve(JSON.parse(out.split("\n")[0] as string) as { url: string; port: number });
    });
    void exited.then(() => reject(new Error(`replica ${id} exited before listening`)));
  });
  return { id, port: ready.port, process: child, exited, url: ready.url };
}

interface Applied {
  applied: number;
  maxSeq: number;
  duplicates: number;
}
const replicaStats = async (r: Replica) =>
  ((await (await fetch(`${r.url}/soak/stats`)).json()) as { perSession: Record<string, Applied> }).perSession;

const replicas = new Map<string, Replica>();
for (const id of ids) replicas.set(id, await startReplica(id));
const upstreams: Upstream[] = [...replicas.values()].map((r) => ({ id: r.id, host: "127.0.0.1", port: r.port }));
const balancer: Balancer = await startHaproxy(upstreams);
// Connections are dropped here, between the clients and the balancer.
const cut = await startTcpProxy(balancer.port);
log(`HAProxy ${balancer.url} in front of ${upstreams.map((u) => `${u.id}=:${u.port}`).join(", ")}; drops through ${cut.url}`);

// ------------------------------------------------------------------ what the clients saw

type Kind = "vector" | "ws" | "http" | "after-return";
/** One session as its client knows it: acknowledged steps, and how it ended if it was lost. */
interface ClientSession {
  readonly id: string;
  readonly kind: Kind;
  readonly replica: string;
  readonly boot: string;
  acked: number;
  /** The error it got when its replica died: NOT_FOUND with SessionLost naming the replica. */
  lost?: { readonly clear: boolean; readonly message: string };
}
const sessions = new Map<string, ClientSession>();
const errors: Record<string, number> = {};
const errorSamples: Record<string, string> = {};
let mismatched = 0;
let running = true;

function track(id: string | undefined, kind: Kind): ClientSession {
  if (id === undefined) throw new Error(`a ${kind} session has no id`);
  let s = sessions.get(id);
  if (s === undefined) {
    const owner = replicaOf(id);
    s = { id, kind, replica: owner?.id ?? "?", boot: owner?.boot ?? "?", acked: 0 };
    sessions.set(id, s);
  }
  return s;
}

function noteError(err: unknown): void {
  const e = ConnectError.from(err);
  const name = Code[e.code] ?? String(e.code);
  errors[name] = (errors[name] ?? 0) + 1;
  errorSamples[name] ??= e.rawMessage.slice(0, 240);
}

function noteLost(id: string | undefined, err: ConnectError): void {
  const info = findSessionLost(err);
  const s = id === undefined ? undefined : sessions.get(id);
  if (s === undefined || info === undefined) return;
  s.lost = { clear: err.code === Code.NotFound && info.holder === s.replica && info.sessionId === s.id, message: err.rawMessage };
}

function checkReply(r: EnvStepResult, message: string, seq: number): void {
  const obs = r.observation as { echoedMessage?: string };
  if (obs.echoedMessage !== message || r.stepCount !== seq) mismatched++;
}

// ------------------------------------------------------------------ clients

/** The VectorEnv: one Step stream per session over 4 HTTP/2 connections to the balancer. */
async function runVector(): Promise<number> {
  const vec = await VectorEnv.connect({
    baseUrl: cut.url,
    spec: soakSpec,
    count: vectorSize,
    transport: "grpc",
    connections: 4,
    verify: false,
    onSessionLost: (lost) => noteLost(lost.sessionId, lost.error),
  });
  await vec.resetAll();
  while (running) {
    const slots = vec.envs.map((env) => track(env.sessionId, "vector"));
    const messages = slots.map((s, i) => `v${i}:${s.acked + 1}`);
    const results = await vec.stepAll(messages.map((message) => ({ message })));
    for (const [i, r] of results.entries()) {
      if (r.metadata.session_lost !== undefined) continue; // replaced: the new session starts at 0
      const s = slots[i] as ClientSession;
      checkReply(r, messages[i] as string, s.acked + 1);
      s.acked++;
    }
  }
  await vec.close();
  return vec.lostSessions;
}

/** One EnvClient session stepping until the end; a lost session is reported, then replaced by a reset. */
async function runClient(kind: Kind, transport: "websocket" | "http" | "grpc", baseUrl: string, key: string): Promise<void> {
  const env = new EnvClient({ baseUrl, spec: soakSpec, transport, verify: false });
  while (running) {
    if (env.sessionId === undefined) {
      // Opening (at the start, or after a lost session) may meet a connection drop too: try again.
      await env.reset().catch(async (err: unknown) => {
        noteError(err);
        await sleep(200);
      });
      continue;
    }
    const s = track(env.sessionId, kind);
    const message = `${key}:${s.acked + 1}`;
    try {
      checkReply(await env.step({ message }), message, s.acked + 1);
      s.acked++;
    } catch (err) {
      const e = ConnectError.from(err);
      if (findSessionLost(e) !== undefined) {
        noteLost(s.id, e); // the client forgot it: the next turn opens a new session
      } else {
        noteError(e);
        await sleep(100);
      }
    }
  }
  await env.close();
}

const started = Date.now();
const work: Promise<unknown>[] = [runVector()];
// /ws through the dropping proxy (the socket resumes); stateful HTTP straight to the balancer: OpenEnv's
// HTTP protocol has no request ids, so a POST cut in flight could not be retried exactly once.
for (let i = 0; i < wsCount; i++) work.push(runClient("ws", "websocket", cut.url, `w${i}`));
for (let i = 0; i < httpCount; i++) work.push(runClient("http", "http", balancer.url, `h${i}`));
const failed = Promise.all(work).catch((err: unknown) => err);

// ------------------------------------------------------------------ chaos

let drops = 0;
const dropper = (async () => {
  while (running) {
    await sleep(1_500 + Math.random() * 1_500);
    if (!running) break;
    cut.dropAll();
    drops++;
  }
})();

await sleep(durationMs * 0.35);
const killed = replicas.get(victim) as Replica;
const onVictimAtKill = [...sessions.values()].filter((s) => s.replica === victim && s.lost === undefined).length;
log(
  `${Math.round((Date.now() - started) / 1000)} s: SIGKILL replica ${victim} (pid ${killed.process.pid}), ${onVictimAtKill} client sessions on it`,
);
killed.process.kill("SIGKILL");
await killed.exited;
const killedBoot = [...sessions.values()].find((s) => s.replica === victim)?.boot;

await sleep(durationMs * 0.2);
const back = await startReplica(victim, killed.port);
replicas.set(victim, back);
log(`${Math.round((Date.now() - started) / 1000)} s: replica ${victim} back on :${back.port}`);
// New sessions once the balancer's health check sees it again (2 checks 500 ms apart).
await balancer.waitUp(victim);
log(`${Math.round((Date.now() - started) / 1000)} s: HAProxy reports ${victim} up; 12 new sessions`);
const afterReturn = Array.from({ length: 12 }, (_, i) => runClient("after-return", "grpc", balancer.url, `a${i}`));
work.push(...afterReturn);

// The returned replica's new sessions step for a few seconds at least.
await sleep(Math.max(5_000, durationMs - (Date.now() - started)));
running = false;
await dropper;
const outcome = await failed;
await Promise.all(afterReturn);
if (outcome instanceof Error) {
  console.log(`SCALE TEST FAILED: a client failed: ${outcome.stack ?? outcome.message}`);
  process.exit(1);
}
const trafficS = (Date.now() - started) / 1000;

// ------------------------------------------------------------------ audit

interface Row {
  replica: string;
  sessions: number;
  acked: number;
  applied: number;
  lost: number;
  twice: number;
  lostWithKill: string;
  afterReturn: number;
  metricsSteps: number;
  metricsResumes: number;
}
const rows: Row[] = [];
const failures: string[] = [];
const lives = [
  ...ids.filter((id) => id !== victim).map((id) => ({ label: id, id, boot: undefined as string | undefined, alive: true })),
  { label: `${victim} (killed)`, id: victim, boot: killedBoot, alive: false },
  { label: `${victim} (back)`, id: victim, boot: undefined, alive: true },
];
for (const life of lives) {
  const replica = replicas.get(life.id) as Replica;
  const mine = [...sessions.values()].filter(
    (s) => s.replica === life.id && (life.alive ? s.boot !== killedBoot || life.id !== victim : s.boot === life.boot),
  );
  const row: Row = {
    replica: life.label,
    sessions: mine.length,
    acked: mine.reduce((n, s) => n + s.acked, 0),
    applied: 0,
    lost: 0,
    twice: 0,
    lostWithKill: "-",
    afterReturn: mine.filter((s) => s.kind === "after-return").length,
    metricsSteps: 0,
    metricsResumes: 0,
  };
  if (life.alive) {
    const applied = await replicaStats(replica);
    const samples = await scrape(replica.url);
    row.metricsSteps = metricValue(samples, "openenv_steps_total");
    row.metricsResumes = metricValue(samples, "openenv_resumes_total");
    for (const s of mine) {
      const a = applied[s.id];
      if (a === undefined) {
        row.lost += s.acked;
        continue;
      }
      row.applied += a.applied;
      row.twice += a.duplicates;
      // Acknowledged but never applied, a hole in the sequence, or applied and never acknowledged.
      row.lost += Math.max(0, s.acked - a.applied) + (a.maxSeq - a.applied);
      if (a.applied > s.acked) failures.push(`${s.id}: ${a.applied - s.acked} steps applied without an acknowledgement`);
    }
    if (row.lost !== 0) failures.push(`${life.label}: ${row.lost} steps lost`);
    if (row.twice !== 0) failures.push(`${life.label}: ${row.twice} steps applied twice`);
  } else {
    const clear = mine.filter((s) => s.lost?.clear === true).length;
    row.lostWithKill = `${mine.length} (${clear} told NOT_FOUND + SessionLost)`;
    if (mine.length === 0) failures.push(`no session was on ${victim} when it was killed`);
    for (const s of mine.filter((m) => m.lost?.clear !== true)) {
      failures.push(`${s.kind} session ${s.id} on the killed replica was not told it was lost (${s.lost?.message ?? "no error"})`);
    }
  }
  rows.push(row);
}
const back2 = rows.find((r) => r.replica === `${victim} (back)`) as Row;
if (back2.afterReturn === 0) failures.push(`no new session landed on ${victim} after it came back`);
if (mismatched !== 0) failures.push(`${mismatched} replies did not match their request`);
const totalAcked = rows.reduce((n, r) => n + r.acked, 0);
if (totalAcked === 0) failures.push("no step completed");

// ------------------------------------------------------------------ report

const header = [
  "replica",
  "sessions",
  "steps acked",
  "steps applied",
  "lost",
  "applied twice",
  "sessions lost with the kill",
  "new after return",
  "/metrics steps",
  "/metrics resumes",
];
const table = [
  `| ${header.join(" | ")} |`,
  `| ${header.map(() => "---").join(" | ")} |`,
  ...rows.map(
    (r) =>
      `| ${[r.replica, r.sessions, r.acked, r.applied || "-", r.lost, r.twice, r.lostWithKill, r.afterReturn, r.metricsSteps || "-", r.metricsResumes || "-"].join(" | ")} |`,
  ),
];
const byKind = (k: Kind) => [...sessions.values()].filter((s) => s.kind === k).length;
const summary = [
  `traffic ${Math.round(trafficS)} s through HAProxy (${balancer.url}); VectorEnv ${vectorSize} sessions (gRPC), ${wsCount} /ws, ${httpCount} stateful HTTP, 12 opened after the return`,
  `sessions by kind: vector ${byKind("vector")}, ws ${byKind("ws")}, http ${byKind("http")}, after-return ${byKind("after-return")}`,
  `steps acknowledged ${totalAcked} (${Math.round(totalAcked / trafficS)}/s); connection drops ${drops}; replies mismatched ${mismatched}`,
  `client errors other than the lost sessions: ${
    Object.entries(errors)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none"
  }`,
];
console.log(summary.join("\n"));
console.log(table.join("\n"));
for (const [k, v] of Object.entries(errorSamples)) console.log(`  e.g. ${k}: ${v}`);
fs.mkdirSync(path.join(root, "soak/results"), { recursive: true });
const when = new Date().toISOString();
const file = path.join(root, "soak/results", `scale-${when.replaceAll(":", "-")}.json`);
fs.writeFileSync(
  file,
  `${JSON.stringify({ when, command: `soak/scale.ts ${process.argv.slice(2).join(" ")}`.trim(), summary, rows, errors, failures }, null, 2)}\n`,
);
console.log(`results: ${path.relative(root, file)}`);

await cut.close();
await balancer.stop();
for (const r of replicas.values()) {
  if (r.process.exitCode === null) r.process.kill("SIGTERM");
  await Promise.race([r.exited, sleep(15_000)]);
}
if (failures.length > 0) {
  console.log(`SCALE TEST FAILED:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
console.log(
  "scale test passed: nothing lost or applied twice on the surviving replicas, every lost session told so, the killed replica took new sessions again",
);
process.exit(0);
