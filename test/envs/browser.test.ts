import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { create, toJson } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserActionSchema } from "../../gen/openenv/envs/browser/v1/browser_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { BrowserEnvironment, type BrowserFactory, browserSpec } from "../../src/envs/browser/environment.js";
import { browserTasks } from "../../src/envs/browser/tasks/index.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { startCliServer } from "../auto/helpers.js";
import { processTable } from "../fixtures/process-table.js";
import { RawWs } from "../fixtures/raw-ws.js";
import { type ActionInit, type PolicyView, RandomPolicy, ScriptedPolicy } from "./browser-policies.js";
import { chromiumOf, leftovers, profileOf, rootOf } from "./browser-procs.js";
import { expectConnectError, waitFor } from "./helpers.js";

/**
 * The browser environment on a real Chromium (Debian's, driven by
 * playwright-core): every task solved by a scripted policy over the Step
 * stream and over OpenEnv's /ws, a random baseline, the limits, and what
 * happens when Chromium or the server dies.
 */

const root = path.resolve(import.meta.dirname, "../..");
let factory: BrowserFactory;
let server: EnvironmentServer;
/** A site on loopback that some tests allow: pages that hang, grow, open popups, and count their hits. */
let site: http.Server;
let siteUrl: string;
const siteHits: string[] = [];

beforeAll(async () => {
  site = http.createServer((req, res) => {
    siteHits.push(req.url ?? "");
    if (req.url === "/slow") return; // never answers
    const pages: Record<string, string> = {
      "/hang": `<title>Hang</title><button onclick="while (true) {}">Hang</button>`,
      "/grow": `<title>Grow</title><button onclick="window.keep = []; for (let i = 0; i < 12; i++) window.keep.push(new Array(1e6).fill(i + 0.5))">Grow</button>`,
      "/popups": `<title>Popups</title><button onclick="for (let i = 0; i < 5; i++) window.open('/plain?' + i)">Open</button>`,
      "/plain": `<title>Plain</title><p>A plain page.</p>`,
    };
    const body = pages[(req.url ?? "").split("?")[0]];
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/html" });
    res.end(body ?? "not found");
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  factory = BrowserEnvironment.with({
    allowedOrigins: [siteUrl],
    actionTimeoutMs: 4_000,
    navigationTimeoutMs: 2_000,
    jsHeapLimitMb: 32,
    maxPages: 2,
  });
  server = await serve(factory, { port: 0 });
});
afterAll(async () => {
  await server?.close();
  site?.closeAllConnections();
  await new Promise((resolve) => site?.close(resolve));
});

const connect = (s: EnvironmentServer = server) => EnvClient.connect({ baseUrl: s.url, spec: browserSpec });
const seeds = [11n, 22n, 33n];

/** Runs one episode with a policy over the Step stream; returns whether it succeeded and how many steps it took. */
async function episode(env: Awaited<ReturnType<typeof connect>>, task: string, seed: bigint, policy: { act(v: PolicyView): ActionInit }) {
  let r = await env.reset({ seed, options: { task } });
  expect(r.observation.task).toBe(task);
  let steps = 0;
  while (!r.done) {
    r = await env.step(policy.act({ goal: r.observation.goal, axtree: r.observation.axtreeTxt, task }));
    steps++;
  }
  return { success: r.terminated && r.reward === 1, reward: r.reward, steps, last: r };
}

describe("browser environment: tasks on a real Chromium", () => {
  it("a scripted policy solves every task for 3 seeds over the Step stream; the rubric pays 1 only at the end", async () => {
    await using env = await connect();
    for (const task of browserTasks) {
      for (const seed of seeds) {
        const out = await episode(env, task.name, seed, new ScriptedPolicy());
        expect(out.success, `${task.name} seed ${seed}: ${out.last.observation.lastActionError}`).toBe(true);
        expect(out.last.rewardComponents).toEqual({ success: 1 });
        expect(out.last.truncated).toBe(false);
        const state = await env.state();
        expect(state).toMatchObject({ task: task.name, seed, success: true, done: true, stepCount: out.steps });
      }
    }
  }, 600_000);

  it("a scripted policy solves every task for 3 seeds over OpenEnv's /ws (JSON, snake_case, base64 screenshots)", async () => {
    const ws = await RawWs.open(`${server.url.replace("http://", "ws://")}/ws`);
    try {
      for (const task of browserTasks) {
        for (const seed of seeds) {
          const policy = new ScriptedPolicy();
          let reply = (await ws.askJson({ type: "reset", data: { seed: Number(seed), task: task.name } })) as unknown as Reply;
          expect(reply.type, JSON.stringify(reply)).toBe("observation");
          let steps = 0;
          while (!reply.data.done) {
            const o = reply.data.observation;
            const action = toJson(
              BrowserActionSchema,
              create(BrowserActionSchema, policy.act({ goal: o.goal, axtree: o.axtree_txt, task: task.name })),
              {
                useProtoFieldName: true,
              },
            );
            reply = (await ws.askJson({ type: "step", data: action })) as unknown as Reply;
            expect(reply.type, JSON.stringify(reply)).toBe("observation");
            steps++;
            expect(steps).toBeLessThanOrEqual(20);
          }
          expect(reply.data.reward, `${task.name} seed ${seed}: ${reply.data.observation.last_action_error}`).toBe(1);
        }
      }
      // The screenshot is base64 in JSON, as OpenEnv carries images.
      const shot = (await ws.askJson({
        type: "reset",
        data: { seed: 1, task: "click-button", screenshot: { format: "IMAGE_FORMAT_PNG" } },
      })) as unknown as Reply;
      const image = Buffer.from(shot.data.observation.screenshot?.data ?? "", "base64");
      expect(image.subarray(1, 4).toString()).toBe("PNG");
      expect(shot.data.observation.screenshot).toMatchObject({ mime_type: "image/png", width: 800, height: 600 });
    } finally {
      ws.close();
    }
  }, 600_000);

  it("a random policy mostly fails (the baseline: its success rate is recorded in docs/environments.md)", async () => {
    await using env = await connect();
    let successes = 0;
    let episodes = 0;
    for (const task of browserTasks) {
      const out = await episode(env, task.name, 5n, new RandomPolicy(BigInt(episodes)));
      episodes++;
      if (out.success) successes++;
      expect(out.last.terminated || out.last.truncated).toBe(true);
      if (!out.success) expect(out.reward).toBe(0);
    }
    expect(successes / episodes).toBeLessThan(0.5);
  }, 600_000);

  it("the same seed gives the same page and target; other seeds change them", async () => {
    await using env = await connect();
    const a = await env.reset({ seed: 7, options: { task: "click-button" } });
    const b = await env.reset({ seed: 7, options: { task: "click-button" } });
    expect(b.observation.axtreeTxt).toBe(a.observation.axtreeTxt);
    expect(b.observation.goal).toBe(a.observation.goal);
    const others = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) others.add((await env.reset({ seed, options: { task: "click-button" } })).observation.axtreeTxt);
    expect(others.size).toBeGreaterThan(3);
    // Without a task the seed picks one.
    const picked = await env.reset({ seed: 99 });
    expect(browserTasks.map((t) => t.name)).toContain(picked.observation.task);
  }, 120_000);

  it("truncates at the step budget and pays nothing", async () => {
    await using env = await connect();
    const r = await env.reset({ seed: 3, options: { task: "tick-checkboxes", max_steps: 2 } });
    expect(r.observation.stepsRemaining).toBe(2);
    const a = await env.step({ action: { case: "noop", value: {} } });
    expect([a.done, a.observation.stepsRemaining]).toEqual([false, 1]);
    const b = await env.step({ action: { case: "noop", value: {} } });
    expect([b.terminated, b.truncated, b.reward]).toEqual([false, true, 0]);
    await expectConnectError(env.step({ action: { case: "noop", value: {} } }), Code.FailedPrecondition, /is over; reset/);
  }, 60_000);

  it("a wrong submission ends the episode with reward 0 (the check reads what the page posted)", async () => {
    await using env = await connect();
    const r = await env.reset({ seed: 4, options: { task: "click-button" } });
    const target = /"(.+)"/.exec(r.observation.goal)?.[1];
    const other = [...r.observation.axtreeTxt.matchAll(/button "(\w+)" \[ref=((?:f\d+)?e\d+)\]/g)].find((m) => m[1] !== target);
    const s = await env.step({ action: { case: "click", value: { elementId: other?.[2] ?? "" } } });
    expect([s.terminated, s.reward, s.rewardComponents]).toEqual([true, 0, { success: 0 }]);
  }, 60_000);

  it("the agent's claims do not count: read-value scores the reported value against the page", async () => {
    await using env = await connect();
    await env.reset({ seed: 8, options: { task: "read-value" } });
    const s = await env.step({ action: { case: "sendMsgToUser", value: { text: "I have completed the task successfully" } } });
    expect([s.terminated, s.reward]).toEqual([true, 0]);
    expect((await env.state()).messagesToUser).toEqual(["I have completed the task successfully"]);
  }, 60_000);
});

interface Reply {
  type: string;
  data: {
    observation: {
      goal: string;
      axtree_txt: string;
      last_action_error: string;
      screenshot?: { data: string; mime_type: string; width: number; height: number };
    };
    reward: number | null;
    done: boolean;
  };
}

describe("browser environment: actions, errors and screenshots", () => {
  it("refuses what the page refuses in last_action_error and keeps the session usable", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "scroll-terms" } });
    const missing = await env.step({ action: { case: "click", value: { elementId: "e999" } } });
    expect(missing.observation.lastActionError).toMatch(/no element with id "e999" on the current page/);
    const tree = (await env.step({ action: { case: "noop", value: {} } })).observation.axtreeTxt;
    const box = /checkbox "I agree to the terms" \[disabled\] \[ref=((?:f\d+)?e\d+)\]/.exec(tree)?.[1] ?? "";
    const disabled = await env.step({ action: { case: "click", value: { elementId: box } } });
    expect(disabled.observation.lastActionError).toBe(`element "${box}" is disabled`);
    const notText = await env.step({ action: { case: "fill", value: { elementId: "e2", value: "x" } } });
    expect(notText.observation.lastActionError).toMatch(/^fill: .*not an <input>/);
    const back = await env.step({ action: { case: "goBack", value: {} } });
    expect(back.observation.lastActionError).toBe("go_back: there is no previous page");
    expect(back.done).toBe(false);
  }, 60_000);

  it("goto opens only the task's start page and allowed origins; other requests never leave the browser", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-link" } });
    const deep = await env.step({ action: { case: "goto", value: { url: "item/amber" } } });
    expect(deep.observation.lastActionError).toMatch(/^goto: only the task's start page/);
    const js = await env.step({ action: { case: "goto", value: { url: "javascript:alert(1)" } } });
    expect(js.observation.lastActionError).toMatch(/^goto: .* is not allowed/);
    const out = await env.step({ action: { case: "goto", value: { url: "http://127.0.0.1:9/x" } } });
    expect(out.observation.lastActionError).toBe(
      "goto: http://127.0.0.1:9 is not allowed; this task's pages are under http://tasks.openenv.invalid/click-link/",
    );
    const before = siteHits.length;
    const allowed = await env.step({ action: { case: "goto", value: { url: `${siteUrl}/plain` } } });
    expect(allowed.observation.lastActionError).toBe("");
    expect(allowed.observation).toMatchObject({ url: `${siteUrl}/plain`, title: "Plain" });
    expect(siteHits.length).toBe(before + 1);
    const home = await env.step({ action: { case: "goto", value: { url: "http://tasks.openenv.invalid/click-link/" } } });
    expect(home.observation.url).toBe("http://tasks.openenv.invalid/click-link/");
  }, 60_000);

  it("rejects malformed actions and options with INVALID_ARGUMENT naming the field", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-button" } });
    await expectConnectError(env.step({}), Code.InvalidArgument, /^action: one of goto, click/);
    await expectConnectError(
      env.step({ action: { case: "click", value: { elementId: "button" } } }),
      Code.InvalidArgument,
      /click\.element_id/,
    );
    await expectConnectError(env.reset({ options: { task: "fly-to-moon" } }), Code.InvalidArgument, /task/);
    await expectConnectError(env.reset({ options: { viewport_width: 10 } }), Code.InvalidArgument, /viewport_width/);
  }, 60_000);

  it("sends screenshots as protobuf bytes: PNG at the viewport's size, JPEG scaled down and smaller", async () => {
    await using env = await connect();
    const png = await env.reset({ seed: 2, options: { task: "read-value", screenshot: {} } });
    expect(png.observation.screenshot).toMatchObject({ mimeType: "image/png", width: 800, height: 600 });
    expect(
      Buffer.from(png.observation.screenshot?.data ?? [])
        .subarray(1, 4)
        .toString(),
    ).toBe("PNG");
    const jpeg = await env.reset({
      seed: 2,
      options: {
        task: "read-value",
        viewport_width: 1000,
        viewport_height: 500,
        screenshot: { format: "IMAGE_FORMAT_JPEG", jpeg_quality: 40, width: 400 },
      },
    });
    const shot = jpeg.observation.screenshot;
    expect(shot).toMatchObject({ mimeType: "image/jpeg", width: 400, height: 200 });
    expect(Buffer.from(shot?.data ?? []).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(shot?.data.length).toBeLessThan(png.observation.screenshot?.data.length ?? 0);
    const none = await env.reset({ seed: 2, options: { task: "read-value" } });
    expect(none.observation.screenshot).toBeUndefined();
  }, 60_000);
});

describe("browser environment: per-session limits", () => {
  it("a hung page ends its own episode at the action deadline while another session keeps stepping", async () => {
    await using hung = await connect();
    await using other = await connect();
    await hung.reset({ seed: 1, options: { task: "click-button" } });
    await other.reset({ seed: 2, options: { task: "tick-checkboxes", max_steps: 1000 } });
    const page = await hung.step({ action: { case: "goto", value: { url: `${siteUrl}/hang` } } });
    const button = /button "Hang" \[ref=((?:f\d+)?e\d+)\]/.exec(page.observation.axtreeTxt)?.[1] ?? "";
    let hungDone = false;
    const started = Date.now();
    const hanging = hung.step({ action: { case: "click", value: { elementId: button } } }).finally(() => {
      hungDone = true;
    });
    // The other session steps while the hung one waits for its deadline.
    let otherSteps = 0;
    while (!hungDone && otherSteps < 900) {
      const r = await other.step({ action: { case: "noop", value: {} } });
      expect(r.observation.lastActionError).toBe("");
      otherSteps++;
    }
    const r = await hanging;
    expect(otherSteps).toBeGreaterThan(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3_000); // the 4 s action deadline, not a Playwright default
    expect(r.observation.lastActionError).toMatch(/the page stopped responding .* the episode was ended$/);
    expect([r.terminated, r.truncated]).toEqual([false, true]);
    expect((await hung.state()).pageCount).toBe(0); // its context (and renderer) was closed
    // The session itself is fine: a new episode works.
    const again = await hung.reset({ seed: 1, options: { task: "click-button" } });
    expect(again.observation.axtreeTxt).toContain("button");
  }, 120_000);

  it("stops a navigation at the navigation timeout; the page and the episode go on", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-button" } });
    const started = Date.now();
    const r = await env.step({ action: { case: "goto", value: { url: `${siteUrl}/slow` } } });
    expect(r.observation.lastActionError).toMatch(/^goto: Timeout 2000ms exceeded/);
    expect(Date.now() - started).toBeLessThan(4_000 + 2_000); // within the action deadline (and its probe)
    expect(r.done).toBe(false);
    const next = await env.step({ action: { case: "goto", value: { url: "http://tasks.openenv.invalid/click-button/" } } });
    expect([next.observation.lastActionError, next.observation.axtreeTxt.includes("button")]).toEqual(["", true]);
  }, 60_000);

  it("ends the episode when the session's pages pass the JavaScript heap limit", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-button" } });
    const page = await env.step({ action: { case: "goto", value: { url: `${siteUrl}/grow` } } });
    const button = /button "Grow" \[ref=((?:f\d+)?e\d+)\]/.exec(page.observation.axtreeTxt)?.[1] ?? "";
    const r = await env.step({ action: { case: "click", value: { elementId: button } } });
    expect(r.observation.lastActionError).toMatch(
      /^the session's pages use [\d.]+ MiB of JavaScript heap, more than the limit of 32\.0 MiB/,
    );
    expect(r.truncated).toBe(true);
  }, 60_000);

  it("closes pages opened past the page limit and says so", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-button" } });
    const page = await env.step({ action: { case: "goto", value: { url: `${siteUrl}/popups` } } });
    const button = /button "Open" \[ref=((?:f\d+)?e\d+)\]/.exec(page.observation.axtreeTxt)?.[1] ?? "";
    const r = await env.step({ action: { case: "click", value: { elementId: button } } });
    expect(r.observation.lastActionError).toMatch(/already has 2 \(the limit\)/);
    await waitFor(async () => (await env.state()).pageCount === 2, 10_000, "extra pages closed");
    expect(r.observation.openPagesUrls.length).toBeLessThanOrEqual(2);
  }, 60_000);
});

describe("browser environment: Chromium's life", () => {
  it("Chromium killed mid-episode: the session in an action gets a clear error, the others go on", async () => {
    const own = BrowserEnvironment.with({});
    const s = await serve(own, { port: 0 });
    try {
      await using busy = await connect(s);
      await using idle = await connect(s);
      await busy.reset({ seed: 5, options: { task: "copy-code" } });
      const first = await idle.reset({ seed: 6, options: { task: "login-form" } });
      const policy = new ScriptedPolicy();
      // The idle session is mid-episode (one field filled) when Chromium dies.
      const mid = await idle.step(policy.act({ goal: first.observation.goal, axtree: first.observation.axtreeTxt, task: "login-form" }));
      const pid = (await own.browser.pid()) as number;
      expect(pid).toBeGreaterThan(0);
      const inFlight = busy.step({ action: { case: "noop", value: { waitMs: 3_000 } } });
      await new Promise((r) => setTimeout(r, 300));
      process.kill(-pid, "SIGKILL");
      await expectConnectError(inFlight, Code.Unavailable, /^Chromium exited during this noop action/);
      // The idle session's next step rebuilds its episode on a new Chromium and finishes the task.
      let r = mid;
      let restarted = false;
      while (!r.done) {
        r = await idle.step(policy.act({ goal: r.observation.goal, axtree: r.observation.axtreeTxt, task: "login-form" }));
        restarted ||= r.metadata?.browser_restarted === true;
      }
      expect(restarted).toBe(true);
      expect(r.reward).toBe(1);
      expect((await idle.state()).browserRestarts).toBe(1);
      // The session whose action failed goes on too, from its last observation.
      const next = await busy.step({ action: { case: "noop", value: {} } });
      expect(next.observation.url).toBe("http://tasks.openenv.invalid/copy-code/");
      expect(own.browser.launches).toBe(2);
      expect(own.browser.crashes).toBe(1);
    } finally {
      await s.close();
    }
  }, 120_000);

  it("closing the server closes Chromium, its crash handlers and the watchdog, and removes their directories", async () => {
    const own = BrowserEnvironment.with({});
    const s = await serve(own, { port: 0 });
    const env = await connect(s);
    await env.reset({ seed: 1, options: { task: "click-button" } });
    const pid = (await own.browser.pid()) as number;
    const chromium = processTable().find((p) => p.pid === pid);
    expect(chromium?.ppid, "Chromium is a child of this process").toBe(process.pid);
    const dirs = [rootOf(chromium!), profileOf(chromium!)];
    expect(leftovers(pid, dirs[0]).length).toBeGreaterThan(2);
    await env.close();
    await s.close();
    await waitFor(() => leftovers(pid, dirs[0]).length === 0, 15_000, "no Chromium process left");
    for (const dir of dirs) expect(fs.existsSync(dir), dir).toBe(false);
  }, 60_000);

  it("SIGKILL of `openenv serve browser` leaves no Chromium: the watchdog kills it and removes its directories", async () => {
    const served = await startCliServer(["browser"]);
    try {
      const env = await EnvClient.connect({ baseUrl: served.url, spec: browserSpec });
      await env.reset({ seed: 1, options: { task: "navigate-two-pages" } });
      const chromium = chromiumOf(served.child.pid as number);
      expect(chromium, "Chromium started by the server").toBeDefined();
      const dirs = [rootOf(chromium!), profileOf(chromium!)];
      expect(dirs.every((d) => fs.existsSync(d))).toBe(true);
      expect(processTable().some((p) => p.cmdline.includes("openenv-browser-watchdog") && p.cmdline.includes(dirs[0]))).toBe(true);
      await served.stop("SIGKILL");
      await waitFor(() => leftovers(chromium!.pid, dirs[0]).length === 0, 20_000, "no Chromium process left");
      await waitFor(() => dirs.every((d) => !fs.existsSync(d)), 10_000, "directories removed");
      await env.close().catch(() => {});
    } finally {
      await served.stop("SIGKILL");
    }
  }, 90_000);

  it("a manifest's variables can allow more origins to `openenv serve`", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openenv-browser-manifest-"));
    try {
      const manifest = fs.readFileSync(path.join(root, "src/envs/browser/openenv.yaml"), "utf8");
      fs.writeFileSync(
        path.join(dir, "openenv.yaml"),
        manifest.replace(/OPENENV_BROWSER_ALLOWED_ORIGINS: ""/, `OPENENV_BROWSER_ALLOWED_ORIGINS: "${siteUrl}"`),
      );
      fs.writeFileSync(
        path.join(dir, "environment.ts"),
        `export { BrowserEnvironment } from ${JSON.stringify(path.join(root, "src/envs/browser/environment.ts"))};\n`,
      );
      const served = await startCliServer([dir]);
      try {
        await using env = await EnvClient.connect({ baseUrl: served.url, spec: browserSpec });
        await env.reset({ seed: 1, options: { task: "click-button" } });
        const allowed = await env.step({ action: { case: "goto", value: { url: `${siteUrl}/plain` } } });
        expect([allowed.observation.lastActionError, allowed.observation.title]).toEqual(["", "Plain"]);
        const other = await env.step({ action: { case: "goto", value: { url: "http://127.0.0.2:9/" } } });
        expect(other.observation.lastActionError).toMatch(/^goto: http:\/\/127\.0\.0\.2:9 is not allowed/);
      } finally {
        await served.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("says clearly when Chromium is missing", async () => {
    const own = BrowserEnvironment.with({ executablePath: "/nonexistent/chromium" });
    const s = await serve(own, { port: 0 });
    try {
      await using env = await connect(s);
      await expectConnectError(
        env.reset({ options: { task: "click-button" } }),
        Code.FailedPrecondition,
        "the browser environment cannot start Chromium: /nonexistent/chromium is not an executable file (set by executablePath)",
      );
    } finally {
      await s.close();
    }
  }, 30_000);

  it("says clearly when playwright-core is not installed", async () => {
    // A child process whose module resolution cannot find playwright-core, as after `npm install --omit=optional`.
    const hook = `data:text/javascript,${encodeURIComponent(
      `import { register } from "node:module"; register("data:text/javascript," + encodeURIComponent('export async function resolve(s, c, next) { if (s === "playwright-core") { const e = new Error("Cannot find package \\'playwright-core\\'"); e.code = "ERR_MODULE_NOT_FOUND"; throw e; } return next(s, c); }'));`,
    )}`;
    const script = `
      const { BrowserEnvironment } = await import("./src/envs/browser/environment.ts");
      const env = new BrowserEnvironment({});
      try { await env.reset({ seed: 1n, episodeId: "x", options: {}, signal: new AbortController().signal }); }
      catch (e) { console.log(JSON.stringify({ code: e.code, message: e.rawMessage })); }`;
    const out = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ["--import", "tsx", "--import", hook, "--input-type=module", "-e", script], { cwd: root });
      let text = "";
      child.stdout.on("data", (d: Buffer) => {
        text += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        text += d.toString();
      });
      child.on("exit", () => resolve(text));
    });
    expect(JSON.parse(out.trim().split("\n").at(-1) ?? "{}")).toEqual({
      code: Code.FailedPrecondition,
      message: expect.stringMatching(
        /^the browser environment needs the optional dependency playwright-core \(npm install playwright-core@1\.65\.2\)/,
      ),
    });
  }, 60_000);
});
