import { create, toJson } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BrowserActionSchema } from "../../gen/openenv/envs/browser/v1/browser_pb.js";
import { browserTasks } from "../../src/envs/browser/tasks/index.js";
import type { EnvironmentServer } from "../../src/server/serve.js";
import { RawWs } from "../fixtures/raw-ws.js";
import { type ActionInit, type PolicyView, parseAxtree, RandomPolicy, ScriptedPolicy } from "./browser-policies.js";
import { connectBrowser, useBrowserServer } from "./browser-site.js";
import { expectConnectError } from "./helpers.js";

/**
 * The browser environment's tasks on a real Chromium (Debian's, driven by
 * playwright-core): every task solved by a scripted policy over the Step
 * stream and over OpenEnv's /ws, a random baseline, refused actions and
 * screenshots. Limits and Chromium's life: browser-limits.test.ts.
 */

const fixture = useBrowserServer();
const connect = (s: EnvironmentServer = fixture.server) => connectBrowser(s);
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
    const ws = await RawWs.open(`${fixture.server.url.replace("http://", "ws://")}/ws`);
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

  it("element ids are stable: an element keeps its id across steps that change the page around it", async () => {
    await using env = await connect();
    const idsOf = (tree: string) =>
      new Map(
        parseAxtree(tree)
          .filter((n) => n.ref !== undefined)
          .map((n) => [`${n.role} "${n.name}"`, n.ref]),
      );
    const first = await env.reset({ seed: 9, options: { task: "login-form" } });
    const before = idsOf(first.observation.axtreeTxt);
    const field = parseAxtree(first.observation.axtreeTxt).find((n) => n.role === "textbox");
    expect(field?.ref).toBeDefined();
    // Typing changes the tree (the field's value) but not the ids.
    const typed = await env.step({ action: { case: "fill", value: { elementId: field?.ref ?? "", value: "someone" } } });
    expect(typed.observation.lastActionError).toBe("");
    expect(typed.observation.axtreeTxt).not.toBe(first.observation.axtreeTxt);
    expect(typed.observation.axtreeTxt).toContain("someone");
    expect(idsOf(typed.observation.axtreeTxt)).toEqual(before);
    const boxes = await env.reset({ seed: 9, options: { task: "tick-checkboxes" } });
    const boxIds = idsOf(boxes.observation.axtreeTxt);
    const box = parseAxtree(boxes.observation.axtreeTxt).find((n) => n.role === "checkbox" && !n.attrs.includes("checked"));
    const ticked = await env.step({ action: { case: "click", value: { elementId: box?.ref ?? "" } } });
    const after = parseAxtree(ticked.observation.axtreeTxt).find((n) => n.role === "checkbox" && n.name === box?.name);
    expect([after?.ref, after?.attrs.includes("checked")]).toEqual([box?.ref, true]);
    expect(idsOf(ticked.observation.axtreeTxt)).toEqual(boxIds);
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
    const before = fixture.site.hits.length;
    const allowed = await env.step({ action: { case: "goto", value: { url: `${fixture.site.url}/plain` } } });
    expect(allowed.observation.lastActionError).toBe("");
    expect(allowed.observation).toMatchObject({ url: `${fixture.site.url}/plain`, title: "Plain" });
    expect(fixture.site.hits.length).toBe(before + 1);
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
