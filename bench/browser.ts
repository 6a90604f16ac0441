// Figures for the browser environment, in one run (not a test; it asserts nothing):
//   node --import tsx bench/browser.ts [--quick] [--json FILE]
// - reset time (the first one starts Chromium), p50/p99
// - step latency p50/p99 over the Step stream: without a screenshot, with a PNG, with a
//   scaled JPEG; and over OpenEnv's /ws with a PNG (base64 in JSON)
// - floors measured in the same run: an echo step over the same transport (the framework's
//   round trip) and a bare Chromium round trip (page.evaluate), so the step figures read as ratios
// - sessions per GB: proportional set size (PSS) of Chromium's processes with 1 and N sessions open
// - screenshot size: the image, the protobuf observation carrying it, the OpenEnv JSON frame
// - success rates of the scripted policy (3 seeds; 1 with --quick) and of a random policy (the baseline; 10 seeds, 1 with --quick), per task
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { create, type JsonObject, toBinary, toJson } from "@bufbuild/protobuf";
import { BrowserActionSchema, BrowserObservationSchema } from "../gen/openenv/envs/browser/v1/browser_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { BrowserEnvironment, browserSpec } from "../src/envs/browser/environment.js";
import { browserTasks } from "../src/envs/browser/tasks/index.js";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { serve } from "../src/server/serve.js";
import { type ActionInit, type PolicyView, parseAxtree, RandomPolicy, ScriptedPolicy } from "../test/envs/browser-policies.js";
import { RawWs } from "../test/fixtures/raw-ws.js";

const { values: args } = parseArgs({ options: { quick: { type: "boolean", default: false }, json: { type: "string" } } });
const quick = args.quick === true;
const resets = quick ? 5 : 40;
const steps = quick ? 10 : 200;
const sessionsForMemory = quick ? 4 : 16;
const randomSeeds = quick ? 1 : 10;
const scriptedSeeds = quick ? [11n] : [11n, 22n, 33n];

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");
const loadBefore = load();
const pct = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const ms = (v: number) => `${v.toFixed(1)} ms`;
const figures: Record<string, unknown> = {};
const timed = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const out = await f();
  return [out, performance.now() - t];
};

const factory = BrowserEnvironment.with({ idleCloseMs: 60_000 });
const server = await serve(factory, { port: 0, maxSessions: 256 });
const connect = () => EnvClient.connect({ baseUrl: server.url, spec: browserSpec });

// Reset time: the first starts Chromium; the rest reuse the session's context.
{
  const env = await connect();
  const [, first] = await timed(() => env.reset({ seed: 0, options: { task: "click-button" } }));
  const times: number[] = [];
  for (let i = 0; i < resets; i++) {
    const task = browserTasks[i % browserTasks.length].name;
    times.push((await timed(() => env.reset({ seed: i + 1, options: { task } })))[1]);
  }
  const fresh: number[] = [];
  for (let i = 0; i < Math.max(3, resets / 8); i++) {
    const other = await connect();
    fresh.push((await timed(() => other.reset({ seed: i, options: { task: "click-button" } })))[1]);
    await other.close();
  }
  figures.reset = { firstWithLaunchMs: first, p50Ms: pct(times, 50), p99Ms: pct(times, 99), newSessionP50Ms: pct(fresh, 50) };
  console.log(
    `reset: first (starts Chromium) ${ms(first)}; then ${resets} resets p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}; first reset of a new session (new context) p50 ${ms(pct(fresh, 50))}`,
  );
  await env.close();
}

// Floors: the framework's round trip (echo) and Chromium's (page.evaluate on an idle page).
let echoP50 = 0;
let chromiumP50 = 0;
{
  const echo = await serve(EchoEnvironment, { port: 0 });
  const env = await EnvClient.connect({ baseUrl: echo.url });
  await env.reset();
  const times: number[] = [];
  for (let i = 0; i < 50 + steps; i++) {
    const [, t] = await timed(() => env.step({ message: "x" }));
    if (i >= 50) times.push(t);
  }
  echoP50 = pct(times, 50);
  await env.close();
  await echo.close();
  const context = await factory.browser.newContext({});
  const page = await context.newPage();
  const rt: number[] = [];
  for (let i = 0; i < 20 + steps; i++) {
    const [, t] = await timed(() => page.evaluate("1"));
    if (i >= 20) rt.push(t);
  }
  chromiumP50 = pct(rt, 50);
  await context.close();
  figures.floors = { echoStepP50Ms: echoP50, chromiumRoundTripP50Ms: chromiumP50 };
  console.log(`floors: echo step over the Step stream p50 ${ms(echoP50)}; Chromium round trip (page.evaluate) p50 ${ms(chromiumP50)}`);
}

// Step latency: clicking a checkbox of tick-checkboxes (a real action, then the tree), over and over.
const checkbox = (axtree: string): string => parseAxtree(axtree).find((n) => n.role === "checkbox")?.ref ?? "e1";
async function stepLatency(label: string, screenshot: JsonObject | undefined): Promise<number[]> {
  const env = await connect();
  const r = await env.reset({ seed: 3, options: { task: "tick-checkboxes", max_steps: 1000, ...(screenshot ? { screenshot } : {}) } });
  const id = checkbox(r.observation.axtreeTxt);
  const times: number[] = [];
  for (let i = 0; i < 10 + steps; i++) {
    const [s, t] = await timed(() => env.step({ action: { case: "click", value: { elementId: id } } }));
    if (s.observation.lastActionError !== "") throw new Error(s.observation.lastActionError);
    if (i >= 10) times.push(t);
  }
  await env.close();
  const p50 = pct(times, 50);
  console.log(
    `step (${label}), ${steps} clicks: p50 ${ms(p50)}, p99 ${ms(pct(times, 99))} = ${(p50 / echoP50).toFixed(0)}x the echo floor, ${(p50 / chromiumP50).toFixed(1)}x a Chromium round trip`,
  );
  figures[`step ${label}`] = { p50Ms: p50, p99Ms: pct(times, 99), xEcho: p50 / echoP50, xChromium: p50 / chromiumP50 };
  return times;
}
await stepLatency("no screenshot", undefined);
await stepLatency("PNG 800x600", {});
await stepLatency("JPEG q80 400x300", { format: "IMAGE_FORMAT_JPEG", jpeg_quality: 80, width: 400 });

// The same PNG steps over OpenEnv's /ws, and the sizes of one observation on both paths.
{
  const ws = await RawWs.open(`${server.url.replace("http://", "ws://")}/ws`);
  const first = JSON.parse(
    await ws.ask({ type: "reset", data: { seed: 3, task: "tick-checkboxes", max_steps: 1000, screenshot: {} } }),
  ) as {
    data: { observation: { axtree_txt: string } };
  };
  const action = toJson(
    BrowserActionSchema,
    create(BrowserActionSchema, { action: { case: "click", value: { elementId: checkbox(first.data.observation.axtree_txt) } } }),
    {
      useProtoFieldName: true,
    },
  );
  const times: number[] = [];
  for (let i = 0; i < 10 + steps; i++) {
    const [, t] = await timed(() => ws.ask({ type: "step", data: action }));
    if (i >= 10) times.push(t);
  }
  ws.close();
  console.log(`step (PNG 800x600, OpenEnv /ws JSON), ${steps} clicks: p50 ${ms(pct(times, 50))}, p99 ${ms(pct(times, 99))}`);
  figures["step PNG over /ws"] = { p50Ms: pct(times, 50), p99Ms: pct(times, 99) };

  const env = await connect();
  const sizes: Record<string, unknown> = {};
  for (const [label, screenshot] of [
    ["PNG 800x600", {}],
    ["JPEG q80 800x600", { format: "IMAGE_FORMAT_JPEG" }],
  ] as const) {
    const r = await env.reset({ seed: 3, options: { task: "tick-checkboxes", screenshot } });
    const image = r.observation.screenshot?.data.length ?? 0;
    const proto = toBinary(BrowserObservationSchema, r.observation).length;
    const ws2 = await RawWs.open(`${server.url.replace("http://", "ws://")}/ws`);
    const json = Buffer.byteLength(await ws2.ask({ type: "reset", data: { seed: 3, task: "tick-checkboxes", screenshot } }));
    ws2.close();
    sizes[label] = { imageBytes: image, protobufObservationBytes: proto, jsonFrameBytes: json, jsonOverProtobuf: json / proto };
    console.log(
      `screenshot ${label}: image ${image} B; observation as protobuf ${proto} B; OpenEnv JSON frame ${json} B (${(json / proto).toFixed(2)}x)`,
    );
  }
  figures.screenshotSizes = sizes;
  await env.close();
}

// Sessions per GB: PSS of every Chromium process (its group and crash handlers) with 1 and N sessions open.
{
  const pid = (await factory.browser.pid()) as number;
  const pss = (): number => {
    let kb = 0;
    for (const entry of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
        if (pgid !== pid) continue;
        kb += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${entry}/smaps_rollup`, "utf8"))?.[1] ?? 0);
      } catch {
        // gone
      }
    }
    return kb / 1024;
  };
  const settle = () => new Promise((r) => setTimeout(r, 2_000));
  const open: Awaited<ReturnType<typeof connect>>[] = [];
  const addSession = async (i: number) => {
    const env = await connect();
    await env.reset({ seed: i, options: { task: browserTasks[i % browserTasks.length].name } });
    open.push(env);
  };
  await addSession(0);
  await settle();
  const one = pss();
  for (let i = 1; i < sessionsForMemory; i++) await addSession(i);
  await settle();
  const many = pss();
  const perSession = (many - one) / (sessionsForMemory - 1);
  figures.memory = {
    pssOneSessionMb: one,
    pssManySessionsMb: many,
    sessions: sessionsForMemory,
    perSessionMb: perSession,
    sessionsPerGb: 1024 / perSession,
  };
  console.log(
    `memory: Chromium PSS ${one.toFixed(0)} MiB with 1 session, ${many.toFixed(0)} MiB with ${sessionsForMemory}: ${perSession.toFixed(1)} MiB per session, ${(1024 / perSession).toFixed(0)} sessions per GB (beyond Chromium's own ${(one - perSession).toFixed(0)} MiB)`,
  );
  await Promise.all(open.map((e) => e.close()));
}

// Success rates: scripted (3 seeds) and random (the baseline), per task.
{
  const env = await connect();
  const run = async (task: string, seed: bigint, policy: { act(v: PolicyView): ActionInit }) => {
    let r = await env.reset({ seed, options: { task } });
    let n = 0;
    while (!r.done) {
      r = await env.step(policy.act({ goal: r.observation.goal, axtree: r.observation.axtreeTxt, task }));
      n++;
    }
    return { success: r.terminated && r.reward === 1, steps: n };
  };
  const rows: { task: string; scripted: string; random: string; scriptedSteps: number }[] = [];
  let scriptedOk = 0;
  let randomOk = 0;
  for (const task of browserTasks) {
    let s = 0;
    let sSteps = 0;
    for (const seed of scriptedSeeds) {
      const out = await run(task.name, seed, new ScriptedPolicy());
      if (out.success) s++;
      sSteps += out.steps;
    }
    let r = 0;
    for (let i = 0; i < randomSeeds; i++) if ((await run(task.name, BigInt(100 + i), new RandomPolicy(BigInt(i)))).success) r++;
    scriptedOk += s;
    randomOk += r;
    rows.push({
      task: task.name,
      scripted: `${s}/${scriptedSeeds.length}`,
      random: `${r}/${randomSeeds}`,
      scriptedSteps: sSteps / scriptedSeeds.length,
    });
  }
  await env.close();
  console.log("\n| task | scripted policy | random policy | scripted steps |\n|---|---|---|---|");
  for (const row of rows) console.log(`| \`${row.task}\` | ${row.scripted} | ${row.random} | ${row.scriptedSteps.toFixed(1)} |`);
  console.log(
    `| all | ${scriptedOk}/${scriptedSeeds.length * browserTasks.length} | ${randomOk}/${randomSeeds * browserTasks.length} (${((100 * randomOk) / (randomSeeds * browserTasks.length)).toFixed(1)}%) | |`,
  );
  figures.success = {
    rows,
    scripted: scriptedOk / (scriptedSeeds.length * browserTasks.length),
    random: randomOk / (randomSeeds * browserTasks.length),
  };
}

await server.close();
console.log(
  `\nload average (1, 5, 15 min) before ${loadBefore}, after ${load()}; the machine is shared, so absolute times vary between runs`,
);
if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify({ quick, loadBefore, loadAfter: load(), figures }, null, 2)}\n`);
