import { describe, expect, it } from "vitest";
import { BrowserResetOptionsSchema } from "../../gen/openenv/envs/browser/v1/browser_pb.js";
import { browserTasks, findTask, type PageState, type TaskInstance } from "../../src/envs/browser/tasks/index.js";
import { SeededRandom } from "../../src/envs/common/random.js";
import { fieldRules } from "../../src/protocol/validate.js";

/** The tasks' pages and checks, without a browser: seeding, variation, and what counts as done. */

const instance = (name: string, seed: bigint): TaskInstance => findTask(name)!.generate(new SeededRandom(seed));
const get = (path: string) => ({ method: "GET", path, query: new URLSearchParams(), form: new URLSearchParams() });
const post = (path: string, form: string) => ({ method: "POST", path, query: new URLSearchParams(), form: new URLSearchParams(form) });
const state = (over: Partial<PageState> = {}): PageState => ({ url: "", submissions: [], visits: [], messages: [], ...over });

describe("browser tasks", () => {
  it("has at least 10 tasks, exactly the ones BrowserResetOptions.task allows", () => {
    const field = BrowserResetOptionsSchema.fields.find((f) => f.name === "task")!;
    const allowed = fieldRules(field)?.allowed;
    expect(browserTasks.length).toBeGreaterThanOrEqual(10);
    expect(browserTasks.map((t) => t.name)).toEqual(allowed);
  });

  it.each(browserTasks.map((t) => t.name))("%s: the same seed gives the same pages; seeds change the layout and the target", (name) => {
    const a = instance(name, 5n);
    const b = instance(name, 5n);
    expect(b.goal).toBe(a.goal);
    expect(b.serve(get(a.entry))?.html).toBe(a.serve(get(a.entry))?.html);
    const goals = new Set<string>();
    const pages = new Set<string>();
    for (let seed = 0n; seed < 20n; seed++) {
      const t = instance(name, seed);
      goals.add(t.goal);
      pages.add(t.serve(get(t.entry))?.html ?? "");
      expect(t.entry).toBe(`/${name}/`);
      expect(t.maxSteps).toBeGreaterThan(1);
    }
    // copy-code's goal is fixed text: its code (on the help page) is what changes. scroll-terms varies only its button's label.
    if (name === "copy-code") {
      expect(new Set([...Array(20).keys()].map((s) => instance(name, BigInt(s)).serve(get("/copy-code/help"))?.html)).size).toBeGreaterThan(
        15,
      );
    } else {
      expect(goals.size).toBeGreaterThanOrEqual(name === "scroll-terms" ? 3 : 6);
    }
    expect(pages.size).toBeGreaterThan(15);
  });

  it.each(browserTasks.map((t) => t.name))("%s: nothing is done before the page acts, and unknown paths are not served", (name) => {
    const t = instance(name, 9n);
    expect(t.check(state())).toEqual({ done: false, success: false });
    expect(t.serve(get(`${t.entry}no-such-page`))).toBeUndefined();
    expect(t.serve(get("/other-task/"))).toBeUndefined();
  });

  it("form tasks end at the first post and only accept it as sent by POST (goto cannot submit)", () => {
    const t = instance("click-button", 3n);
    const target = /"(.+)"/.exec(t.goal)![1];
    expect(t.serve(get("/click-button/submit"))).toBeUndefined();
    expect(t.serve(post("/click-button/submit", `choice=${target}`))?.html).toContain("Submitted");
    const right = { path: "/click-button/submit", fields: { choice: [target] } };
    const wrong = { path: "/click-button/submit", fields: { choice: ["Nope"] } };
    expect(t.check(state({ submissions: [right] }))).toEqual({ done: true, success: true });
    expect(t.check(state({ submissions: [wrong, right] }))).toEqual({ done: true, success: false });
  });

  it("tick-checkboxes wants exactly the named boxes, in any order", () => {
    const t = instance("tick-checkboxes", 12n);
    const wanted = [...t.goal.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    const sub = (items: string[]) => state({ submissions: [{ path: "/tick-checkboxes/submit", fields: { item: items } }] });
    expect(t.check(sub([...wanted].reverse())).success).toBe(true);
    expect(t.check(sub(wanted.slice(1))).success).toBe(wanted.length === 0);
    expect(t.check(sub([...wanted, "Extra"])).success).toBe(false);
  });

  it("read-value accepts the price in any common form, and nothing else", () => {
    const t = instance("read-value", 4n);
    const product = /price of the (.+)\?/.exec(t.goal)![1];
    const html = t.serve(get("/read-value/"))!.html;
    const price = new RegExp(`<td>${product}</td><td>\\$([0-9.]+)</td>`).exec(html)![1];
    const answer = (text: string) => t.check(state({ messages: [text] }));
    for (const ok of [price, `$${price}`, `The price is $${price}.`, `${price} dollars`])
      expect(answer(ok), ok).toEqual({ done: true, success: true });
    for (const bad of [`1${price}`, `${price}1`, "I do not know", "done"]) expect(answer(bad), bad).toEqual({ done: true, success: false });
  });

  it("click-link is done when an item page loads, and right only for the named one", () => {
    const t = instance("click-link", 6n);
    const target = /"(\w+) notes"/.exec(t.goal)![1].toLowerCase();
    expect(t.serve(get(`/click-link/item/${target}`))?.html).toContain("notes");
    expect(t.check(state({ visits: ["/click-link/", `/click-link/item/${target}`] }))).toEqual({ done: true, success: true });
    const other = /item\/(\w+)/.exec(t.serve(get("/click-link/"))!.html.replace(`item/${target}`, ""))![1];
    expect(t.check(state({ visits: [`/click-link/item/${other}`] }))).toEqual({ done: true, success: false });
  });
});
