// Soak test: many sessions stepping for minutes against a server in its own process,
// while a chaos driver drops client connections, SIGKILLs and restarts client
// processes, and sends garbage on spare connections. Then it audits exactly-once
// delivery against what the environment itself recorded.
//
//   npm run soak                      # 3 minutes, 64 sessions, 4 client processes
//   npm run soak -- --quick           # about 30 s (CI)
//   npm run soak -- --minutes 10 --sessions 64 --workers 4 --seed 7
//   npm run soak -- --quick --record-size 0   # replay off: the audit must report steps applied twice
import { type ChildProcess, fork, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { processTable } from "../test/fixtures/process-table.js";
import { type GarbageKind, type GarbageOutcome, garbageKinds, rng, sendGarbage } from "./garbage.js";
import type { ClientCounters, ClientKind, ClientMessage, DriverMessage, SessionPlan, SessionProgress } from "./protocol.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string" },
    quick: { type: "boolean", default: false },
    sessions: { type: "string", default: "64" },
    workers: { type: "string", default: "4" },
    seed: { type: "string" },
    "no-chaos": { type: "boolean", default: false },
    "record-size": { type: "string" },
  },
});
const durationMs = values.quick ? 30_000 : Math.round(Number(values.minutes ?? 3) * 60_000);
const sessionCount = Number(values.sessions);
const workerCount = Math.min(Number(values.workers), sessionCount);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const chaos = !values["no-chaos"];
if (!(durationMs > 0) || !(sessionCount > 0) || !(workerCount > 0) || !Number.isInteger(seed)) {
  console.error("usage: soak/run.ts [--quick | --minutes N] [--sessions N] [--workers N] [--seed N] [--no-chaos]");
  process.exit(2);
}
const random = rng(seed);
const root = path.resolve(import.meta.dirname, "..");
const kinds: ClientKind[] = ["fast-grpc", "fast-connect", "fast-grpc-web", "connect-json"];
const children = new Set<ChildProcess>();
/** Every process the driver started, to check the process table for leftovers at the end. */
const startedPids: number[] = [];
// Whatever happens to the driver, no process it started outlives it.
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => process.exit(130));

const log = (m: string): void => {
  process.stderr.write(`soak: ${m}\n`);
};

// ------------------------------------------------------------------ server

interface Stats {
  sessions: { active: number; opened: number; closed: number };
  rss: number;
  peakRss: number;
  heapUsed: number;
  perSession: Record<string, { applied: number; maxSeq: number; duplicates: number; closed: boolean }>;
}

const serverArgs = ["--expose-gc", "--import", "tsx", "soak/server.ts"];
if (values["record-size"] !== undefined) serverArgs.push("--record-size", values["record-size"]);
const server = spawn(process.execPath, serverArgs, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
children.add(server);
if (server.pid !== undefined) startedPids.push(server.pid);
const serverExit = new Promise<{ code: number | null; signal: string | null }>((r) =>
  server.once("exit", (code, signal) => r({ code, signal })),
);
const listening = await new Promise<{ url: string; port: number }>((resolve, reject) => {
  let out = "";
  server.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
    const line = out.split("\n")[0] as string;
    if (out.includes("\n")) resolve(JSON.parse(line) as { url: string; port: number });
  });
  void serverExit.then((e) => reject(new Error(`the soak server exited (${e.code ?? e.signal}) before listening`)));
});
const stats = async (gc = false): Promise<Stats> =>
  (await (await fetch(`${listening.url}/soak/stats${gc ? "?gc=1" : ""}`)).json()) as Stats;
const atStart = await stats(true);
const rssStart = atStart.rss;
log(`server ${listening.url}; ${sessionCount} sessions over ${workerCount} client processes for ${durationMs / 1000} s; seed ${seed}`);

// ------------------------------------------------------------------ clients

interface Slot {
  /** Bumped for each process started in the slot (a restart after a kill). */
  generation: number;
  child: ChildProcess | undefined;
  plans: Map<string, SessionPlan>;
  counters: ClientCounters | undefined;
  done: boolean;
  exited: Promise<void>;
}

const retired: ClientCounters = { sends: 0, retries: 0, mismatched: 0, resumes: 0, errors: {}, samples: {} };
const addCounters = (into: ClientCounters, from: ClientCounters | undefined): void => {
  if (from === undefined) return;
  into.sends += from.sends;
  into.retries += from.retries;
  into.mismatched += from.mismatched;
  into.resumes += from.resumes;
  for (const [k, v] of Object.entries(from.errors)) into.errors[k] = (into.errors[k] ?? 0) + v;
  for (const [k, v] of Object.entries(from.samples)) into.samples[k] ??= v;
};
/** Sessions a killed process opened before it could report them, and the key generation that replaces them. */
let orphaned = 0;
let generation = 0;
const givenUp = new Map<string, number>();
const slots: Slot[] = [];
for (let w = 0; w < workerCount; w++) {
  const plans = new Map<string, SessionPlan>();
  for (let i = w; i < sessionCount; i += workerCount) {
    const key = `s${i}`;
    plans.set(key, { key, sessionId: undefined, acked: 0, kind: kinds[i % kinds.length] as ClientKind });
  }
  slots.push({ generation: 0, child: undefined, plans, counters: undefined, done: false, exited: Promise.resolve() });
}

function onProgress(slot: Slot, sessions: SessionProgress[]): void {
  for (const p of sessions) {
    const plan = slot.plans.get(p.key);
    if (plan === undefined) continue;
    slot.plans.set(p.key, { ...plan, sessionId: p.sessionId, acked: Math.max(plan.acked, p.acked) });
    // Cumulative per process: keep the latest value of each process's session.
    if (p.givenUp > 0 && p.sessionId !== undefined) givenUp.set(`${slots.indexOf(slot)}/${slot.generation}/${p.sessionId}`, p.givenUp);
  }
}

function startClient(slot: Slot): void {
  const child = fork(path.join(root, "soak/worker.ts"), [], {
    cwd: root,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  if (child.pid !== undefined) startedPids.push(child.pid);
  slot.child = child;
  slot.counters = undefined;
  child.on("message", (msg: ClientMessage) => {
    slot.counters = msg.counters;
    onProgress(slot, msg.sessions);
    if (msg.type === "done") slot.done = true;
  });
  child.on("error", () => {});
  slot.exited = new Promise((resolve) =>
    child.once("exit", () => {
      children.delete(child);
      resolve();
    }),
  );
  child.send({ type: "init", url: listening.url, sessions: [...slot.plans.values()] } satisfies DriverMessage);
}

/** Chaos: SIGKILL a client process and start another with what the driver knows of its sessions. */
async function killAndRestart(slot: Slot): Promise<void> {
  const child = slot.child;
  if (child === undefined || slot.done) return;
  child.kill("SIGKILL");
  await slot.exited;
  addCounters(retired, slot.counters);
  // A session the killed process opened but never reported cannot be resumed: a new one replaces it.
  for (const [key, plan] of [...slot.plans]) {
    if (plan.sessionId === undefined) {
      generation++;
      const renamed = `${key.split("g")[0]}g${generation}`;
      slot.plans.delete(key);
      slot.plans.set(renamed, { ...plan, key: renamed });
      orphaned++;
    }
  }
  slot.generation++;
  startClient(slot);
}

for (const slot of slots) startClient(slot);

// ------------------------------------------------------------------ chaos

const chaosCounts = { drops: 0, kills: 0, garbage: {} as Record<string, Record<GarbageOutcome, number>> };
let running = true;
const tasks: Promise<void>[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `action` every `min..max` ms (seeded) until the run ends. */
function every(minMs: number, maxMs: number, action: () => Promise<void> | void): void {
  tasks.push(
    (async () => {
      while (running) {
        await sleep(minMs + random() * (maxMs - minMs));
        if (running) await action();
      }
    })(),
  );
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
if (chaos) {
  every(1_000, 3_000, () => {
    const slot = pick(slots);
    if (slot.child?.connected) {
      slot.child.send({ type: "drop" } satisfies DriverMessage);
      chaosCounts.drops++;
    }
  });
  every(5_000, 9_000, async () => {
    chaosCounts.kills++;
    await killAndRestart(pick(slots));
  });
  // Several garbage senders at once, so slow garbage (silent sockets) overlaps with the rest.
  for (let g = 0; g < 3; g++) {
    every(100, 400, async () => {
      const kind: GarbageKind = pick(garbageKinds);
      const outcome = await sendGarbage(kind, listening.port, random);
      chaosCounts.garbage[kind] ??= { answered: 0, closed: 0, timeout: 0, refused: 0 };
      chaosCounts.garbage[kind][outcome]++;
    });
  }
}

let rssPeakSampled = rssStart;
let rssWarm: number | undefined;
const started = Date.now();
every(2_000, 2_000, async () => {
  const s = await stats().catch(() => undefined);
  if (s === undefined) return;
  rssPeakSampled = Math.max(rssPeakSampled, s.peakRss);
  if (rssWarm === undefined && Date.now() - started > 5_000) rssWarm = s.rss;
  const acked = slots.reduce((n, slot) => n + [...slot.plans.values()].reduce((m, p) => m + p.acked, 0), 0);
  log(`${Math.round((Date.now() - started) / 1000)} s: ${acked} steps acknowledged, ${s.sessions.active} sessions open, RSS ${mb(s.rss)}`);
});

let serverCrashed: { code: number | null; signal: string | null } | undefined;
await Promise.race([
  sleep(durationMs),
  serverExit.then((e) => {
    serverCrashed = e;
  }),
]);
running = false;
if (serverCrashed !== undefined) {
  // Nothing left to audit: report the crash at once rather than wait for every client to give up.
  for (const c of children) c.kill("SIGKILL");
  console.log(`SOAK FAILED: the server died during the run (${serverCrashed.code ?? serverCrashed.signal}); see its stderr above`);
  process.exit(1);
}
await Promise.all(tasks);

// ------------------------------------------------------------------ end and audit

log("stopping clients");
for (const slot of slots) slot.child?.send({ type: "stop" } satisfies DriverMessage);
const stopDeadline = Date.now() + 120_000;
let stragglers = 0;
for (const slot of slots) {
  const left = stopDeadline - Date.now();
  await Promise.race([slot.exited, sleep(Math.max(0, left))]);
  if (!slot.done) {
    stragglers++;
    slot.child?.kill("SIGKILL");
    await slot.exited;
  }
  addCounters(retired, slot.counters);
}

// Sessions still open now are leaks, unless they are waiting out the resume grace (orphans of killed processes).
const leakDeadline = Date.now() + 20_000;
let final = await stats();
while (final.sessions.active > 0 && Date.now() < leakDeadline) {
  await sleep(250);
  final = await stats();
}
final = await stats(true);

const known = new Map<string, { acked: number }>();
for (const slot of slots) for (const plan of slot.plans.values()) if (plan.sessionId !== undefined) known.set(plan.sessionId, plan);
let attempted = 0;
let completed = 0;
let lost = 0;
let appliedTwice = 0;
let appliedUnacknowledged = 0;
let orphanSteps = 0;
for (const [id, record] of Object.entries(final.perSession)) {
  appliedTwice += record.duplicates;
  const plan = known.get(id);
  if (plan === undefined) {
    // Opened by a process killed before it reported the session: its client is gone with it.
    orphanSteps += record.applied;
    continue;
  }
  let gaveUp = 0;
  for (const [k, n] of givenUp) if (k.endsWith(`/${id}`)) gaveUp += n;
  attempted += plan.acked + gaveUp;
  completed += plan.acked;
  // Acknowledged to a client but never applied (or with a hole in the sequence), or abandoned.
  lost += gaveUp + Math.max(0, plan.acked - record.applied) + (record.maxSeq - record.applied);
  appliedUnacknowledged += Math.max(0, record.applied - plan.acked);
}
for (const [id, plan] of known) {
  if (final.perSession[id] === undefined && plan.acked > 0) lost += plan.acked; // acknowledged steps the environment never saw
}

log("stopping the server (SIGTERM)");
const termAt = Date.now();
server.kill("SIGTERM");
const serverStop = await Promise.race([serverExit, sleep(30_000).then(() => undefined)]);
if (serverStop === undefined) server.kill("SIGKILL");

// Every process started here must be gone (zombies are dead: processTable leaves them out).
let leftovers = startedPids.filter((pid) => processTable().some((p) => p.pid === pid));
for (let i = 0; i < 40 && leftovers.length > 0; i++) {
  await sleep(250);
  leftovers = leftovers.filter((pid) => processTable().some((p) => p.pid === pid));
}
for (const pid of leftovers) process.kill(pid, "SIGKILL");

const errors = { ...retired.errors };
const elapsedS = (Date.now() - started) / 1000;
const result = {
  when: new Date().toISOString(),
  command: `soak/run.ts ${process.argv.slice(2).join(" ")}`.trim(),
  node: process.version,
  seed,
  durationS: durationMs / 1000,
  sessions: sessionCount,
  clientProcesses: workerCount,
  steps: {
    attempted,
    completed,
    lost,
    appliedTwice,
    appliedWithoutAcknowledgement: appliedUnacknowledged,
    mismatchedReplies: retired.mismatched,
    perSecond: Math.round(completed / (durationMs / 1000)),
    perSessionMean: Math.round(completed / Math.max(1, known.size)),
  },
  sends: retired.sends,
  retries: retired.retries,
  resumes: retired.resumes,
  errorsByCode: errors,
  errorSamples: retired.samples,
  sessionsLeaked: final.sessions.active,
  sessionsOpened: final.sessions.opened,
  sessionsClosed: final.sessions.closed,
  orphanedSessions: orphaned,
  orphanedSessionSteps: orphanSteps,
  chaos: { connectionDrops: chaosCounts.drops, clientKills: chaosCounts.kills, garbage: chaosCounts.garbage },
  stragglers,
  processesStarted: startedPids.length,
  processesLeftRunning: leftovers.length,
  serverHeapAfterGcMb: { start: mb(atStart.heapUsed), end: mb(final.heapUsed) },
  serverRss: {
    startMb: mb(rssStart),
    afterWarmupMb: rssWarm === undefined ? null : mb(rssWarm),
    endMb: mb(final.rss),
    peakMb: mb(Math.max(rssPeakSampled, final.peakRss)),
  },
  serverShutdown: { exitCode: serverStop?.code ?? null, ms: Date.now() - termAt },
  elapsedS,
};
const failures: string[] = [];
if (lost !== 0) failures.push(`${lost} steps lost`);
if (appliedTwice !== 0) failures.push(`${appliedTwice} steps applied twice`);
if (appliedUnacknowledged !== 0) failures.push(`${appliedUnacknowledged} steps applied without an acknowledgement`);
if (retired.mismatched !== 0) failures.push(`${retired.mismatched} replies did not match their request`);
if (final.sessions.active !== 0) failures.push(`${final.sessions.active} sessions leaked`);
if (stragglers !== 0) failures.push(`${stragglers} client processes did not stop`);
if (leftovers.length !== 0) failures.push(`${leftovers.length} processes left running`);
if (serverStop?.code !== 0) failures.push(`the server exited with ${serverStop?.code ?? "no exit (killed)"} on SIGTERM`);
if (completed === 0) failures.push("no step completed");

fs.mkdirSync(path.join(root, "soak/results"), { recursive: true });
const file = path.join(root, "soak/results", `${result.when.replaceAll(":", "-")}.json`);
fs.writeFileSync(file, `${JSON.stringify({ ...result, failures }, null, 2)}\n`);

const rows: Array<[string, string | number]> = [
  ["duration", `${result.durationS} s (${Math.round(elapsedS)} s with the stop and the audit)`],
  ["sessions × client processes", `${sessionCount} × ${workerCount}`],
  ["steps attempted", attempted],
  ["steps completed", completed],
  ["steps lost", lost],
  ["steps applied twice", appliedTwice],
  ["replies mismatched", retired.mismatched],
  ["steps/s (mean over the run)", result.steps.perSecond],
  ["steps per session (mean)", result.steps.perSessionMean],
  ["sessions leaked at the end", final.sessions.active],
  ["sessions opened / closed", `${final.sessions.opened} / ${final.sessions.closed}`],
  ["connection drops / client kills", `${chaosCounts.drops} / ${chaosCounts.kills}`],
  ["retried sends / stream resumes", `${retired.retries} / ${retired.resumes}`],
  ["orphaned sessions (steps)", `${orphaned} (${orphanSteps})`],
  [
    "garbage connections",
    Object.entries(chaosCounts.garbage)
      .map(([k, v]) => `${k} ${v.answered + v.closed + v.timeout + v.refused}`)
      .join(", ") || "none",
  ],
  [
    "client errors by code",
    Object.entries(errors)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ") || "none",
  ],
  [
    "server RSS start / warm / end / peak (MB)",
    `${result.serverRss.startMb} / ${result.serverRss.afterWarmupMb ?? "-"} / ${result.serverRss.endMb} / ${result.serverRss.peakMb}`,
  ],
  ["server heap after GC start / end (MB)", `${result.serverHeapAfterGcMb.start} / ${result.serverHeapAfterGcMb.end}`],
  ["processes started / left running", `${startedPids.length} / ${leftovers.length}`],
  ["server SIGTERM: exit code, time", `${result.serverShutdown.exitCode}, ${result.serverShutdown.ms} ms`],
];
const width = Math.max(...rows.map(([k]) => k.length));
console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n"));
console.log(`results: ${path.relative(root, file)}`);
if (failures.length > 0) {
  console.log(`SOAK FAILED: ${failures.join("; ")}`);
  process.exit(1);
}
console.log("soak passed: nothing lost, nothing applied twice, no session leaked");
process.exit(0);

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 102.4) / 10;
}
