import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { EnvClient } from "../../src/client/env-client.js";
import { BrowserEnvironment, browserSpec } from "../../src/envs/browser/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { startCliServer } from "../auto/helpers.js";
import { processTable } from "../fixtures/process-table.js";
import { ScriptedPolicy } from "./browser-policies.js";
import { chromiumOf, leftovers, profileOf, rootOf } from "./browser-procs.js";
import { connectBrowser, useBrowserServer } from "./browser-site.js";
import { expectConnectError, waitFor } from "./helpers.js";

/**
 * The browser environment's limits (a hung page, navigation time, JavaScript
 * heap, pages) and Chromium's life (killed mid-episode, closed with the
 * server, SIGKILL of the server, missing Chromium or playwright-core).
 */

const root = path.resolve(import.meta.dirname, "../..");
const fixture = useBrowserServer();
const connect = (s: EnvironmentServer = fixture.server) => connectBrowser(s);

describe("browser environment: per-session limits", () => {
  it("a hung page ends its own episode at the action deadline while another session keeps stepping", async () => {
    await using hung = await connect();
    await using other = await connect();
    await hung.reset({ seed: 1, options: { task: "click-button" } });
    await other.reset({ seed: 2, options: { task: "tick-checkboxes", max_steps: 1000 } });
    const page = await hung.step({ action: { case: "goto", value: { url: `${fixture.site.url}/hang` } } });
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
    const r = await env.step({ action: { case: "goto", value: { url: `${fixture.site.url}/slow` } } });
    expect(r.observation.lastActionError).toMatch(/^goto: Timeout 2000ms exceeded/);
    expect(Date.now() - started).toBeLessThan(4_000 + 2_000); // within the action deadline (and its probe)
    expect(r.done).toBe(false);
    const next = await env.step({ action: { case: "goto", value: { url: "http://tasks.openenv.invalid/click-button/" } } });
    expect([next.observation.lastActionError, next.observation.axtreeTxt.includes("button")]).toEqual(["", true]);
  }, 60_000);

  it("ends the episode when the session's pages pass the JavaScript heap limit", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-button" } });
    const page = await env.step({ action: { case: "goto", value: { url: `${fixture.site.url}/grow` } } });
    const button = /button "Grow" \[ref=((?:f\d+)?e\d+)\]/.exec(page.observation.axtreeTxt)?.[1] ?? "";
    const r = await env.step({ action: { case: "click", value: { elementId: button } } });
    expect(r.observation.lastActionError).toMatch(
      /^the session's pages use [\d.]+ MiB of JavaScript heap, more than the limit of 32\.0 MiB/,
    );
    expect(r.truncated).toBe(true);
  }, 60_000);

  it("a page allocating past the renderer's V8 heap limit ends its own episode (its renderer crashes, or hangs collecting garbage); Chromium and the session go on", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-button" } });
    const page = await env.step({ action: { case: "goto", value: { url: `${fixture.site.url}/explode` } } });
    const button = /button "Explode" \[ref=((?:f\d+)?e\d+)\]/.exec(page.observation.axtreeTxt)?.[1] ?? "";
    const r = await env.step({ action: { case: "click", value: { elementId: button } } });
    expect(r.observation.lastActionError).toMatch(
      /^(the page's renderer process crashed|the page stopped responding) .* the episode was ended$/,
    );
    expect([r.terminated, r.truncated]).toEqual([false, true]);
    const again = await env.reset({ seed: 2, options: { task: "click-button" } });
    expect(again.observation.axtreeTxt).toContain("button");
  }, 60_000);

  it("closes pages opened past the page limit and says so", async () => {
    await using env = await connect();
    await env.reset({ seed: 1, options: { task: "click-button" } });
    const page = await env.step({ action: { case: "goto", value: { url: `${fixture.site.url}/popups` } } });
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

  it("Chromium starts at the first reset; closing the server closes Chromium, its crash handlers and the watchdog, and removes their directories", async () => {
    const own = BrowserEnvironment.with({});
    const s = await serve(own, { port: 0 });
    const env = await connect(s);
    // Serving and connecting start nothing: Chromium waits for the first reset.
    expect([own.browser.launches, await own.browser.pid()]).toEqual([0, undefined]);
    await env.reset({ seed: 1, options: { task: "click-button" } });
    expect(own.browser.launches).toBe(1);
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
        manifest.replace(/OPENENV_BROWSER_ALLOWED_ORIGINS: ""/, `OPENENV_BROWSER_ALLOWED_ORIGINS: "${fixture.site.url}"`),
      );
      fs.writeFileSync(
        path.join(dir, "environment.ts"),
        `export { BrowserEnvironment } from ${JSON.stringify(path.join(root, "src/envs/browser/environment.ts"))};\n`,
      );
      const served = await startCliServer([dir]);
      try {
        await using env = await EnvClient.connect({ baseUrl: served.url, spec: browserSpec });
        await env.reset({ seed: 1, options: { task: "click-button" } });
        const allowed = await env.step({ action: { case: "goto", value: { url: `${fixture.site.url}/plain` } } });
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
