import type { MessageInitShape } from "@bufbuild/protobuf";
import type { BrowserActionSchema } from "../../gen/openenv/envs/browser/v1/browser_pb.js";
import { SeededRandom } from "../../src/envs/common/random.js";

/** An action as `EnvClient.step` takes it. */
export type ActionInit = MessageInitShape<typeof BrowserActionSchema>;

/** What a policy reads of an observation (the typed message and OpenEnv's JSON both have it). */
export interface PolicyView {
  readonly goal: string;
  readonly axtree: string;
  readonly task: string;
}

/** One line of `axtree_txt`. */
export interface AxNode {
  readonly depth: number;
  readonly role: string;
  readonly name: string;
  readonly ref: string | undefined;
  readonly attrs: readonly string[];
  /** Text after the colon (a text node's content, a textbox's value). */
  readonly text: string;
  /** Index of the line. */
  readonly index: number;
}

const line = /^(\s*)- ("[^"]*"|[^\s":[]+)(?: "((?:[^"\\]|\\.)*)")?((?: \[[^\]]*\])*)(?::\s?(.*))?$/;

/** YAML single-quotes a line's key when it holds characters such as '#': `- 'link "Order #7" [ref=e5]':` */
function unquoteKey(raw: string): string {
  const m = /^(\s*- )'((?:[^']|'')*)'(.*)$/.exec(raw);
  return m === null ? raw : `${m[1]}${m[2].replace(/''/g, "'")}${m[3]}`;
}

/** Parses Playwright's aria snapshot ("ai" mode) into its lines. */
export function parseAxtree(text: string): AxNode[] {
  const out: AxNode[] = [];
  for (const raw of text.split("\n")) {
    const m = line.exec(unquoteKey(raw));
    if (m === null) continue;
    const attrs = [...(m[4] ?? "").matchAll(/\[([^\]]*)\]/g)].map((a) => a[1]);
    const refAttr = attrs.find((a) => a.startsWith("ref="));
    let text = m[5] ?? "";
    if (text.startsWith('"')) {
      try {
        text = JSON.parse(text) as string;
      } catch {
        // keep it as it is
      }
    }
    out.push({
      depth: m[1].length / 2,
      role: m[2],
      name: (m[3] ?? "").replace(/\\"/g, '"'),
      ref: refAttr?.slice(4),
      attrs,
      text,
      index: out.length,
    });
  }
  return out;
}

/** The nodes under `node` (its subtree, without it). */
export function subtree(nodes: readonly AxNode[], node: AxNode): AxNode[] {
  const out: AxNode[] = [];
  for (let i = node.index + 1; i < nodes.length && nodes[i].depth > node.depth; i++) out.push(nodes[i]);
  return out;
}

function find(nodes: readonly AxNode[], role: string, name?: string): AxNode | undefined {
  return nodes.find((n) => n.role === role && n.ref !== undefined && (name === undefined || n.name === name));
}

function need(node: AxNode | undefined, what: string): string {
  if (node?.ref === undefined) throw new Error(`scripted policy: no ${what} in the tree`);
  return node.ref;
}

const click = (elementId: string): ActionInit => ({ action: { case: "click", value: { elementId } } });
const fill = (elementId: string, value: string): ActionInit => ({ action: { case: "fill", value: { elementId, value } } });

/**
 * A policy that solves every bundled task from what it observes: it parses
 * the goal text and the accessibility tree, never the seed or the page's
 * source. One instance per episode (copy-code remembers the code it read).
 */
export class ScriptedPolicy {
  private code: string | undefined;
  private passwordFilled = false;

  act(view: PolicyView): ActionInit {
    const nodes = parseAxtree(view.axtree);
    const goal = view.goal;
    const quoted = [...goal.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
    switch (view.task) {
      case "click-button":
        return click(need(find(nodes, "button", quoted[0]), `button ${quoted[0]}`));
      case "click-link":
        return click(need(find(nodes, "link", quoted[0]), `link ${quoted[0]}`));
      case "login-form": {
        const [user, pass, button] = quoted;
        const username = find(nodes, "textbox", "Username");
        const password = find(nodes, "textbox", "Password");
        if (username?.text !== user) return fill(need(username, "username box"), user);
        // A password box's value is not in the tree: fill it once, right after the username.
        if (password !== undefined && !this.passwordFilled) {
          this.passwordFilled = true;
          return fill(need(password, "password box"), pass);
        }
        return click(need(find(nodes, "button", button), `button ${button}`));
      }
      case "choose-dropdown": {
        const box = find(nodes, "combobox");
        const selected = nodes.find((n) => n.role === "option" && n.attrs.includes("selected"));
        if (selected?.name !== quoted[0])
          return { action: { case: "select", value: { elementId: need(box, "list"), options: [quoted[0]] } } };
        return click(need(find(nodes, "button", "Submit"), "Submit"));
      }
      case "tick-checkboxes": {
        const wrong = nodes.find((n) => n.role === "checkbox" && n.attrs.includes("checked") !== quoted.includes(n.name));
        return click(need(wrong ?? find(nodes, "button", "Submit"), "checkbox or Submit"));
      }
      case "choose-radio": {
        const radio = find(nodes, "radio", quoted[0]);
        return click(need(radio?.attrs.includes("checked") ? find(nodes, "button", "Submit") : radio, `radio ${quoted[0]}`));
      }
      case "enter-text": {
        const box = find(nodes, "textbox");
        const id = need(box, "text box");
        return box?.text === quoted[0] ? { action: { case: "press", value: { key: "Enter", elementId: id } } } : fill(id, quoted[0]);
      }
      case "navigate-two-pages": {
        const m = /^Open (\w+), then (.+), and click "(.+)"\.$/.exec(goal);
        if (m === null) throw new Error(`scripted policy: cannot read the goal ${goal}`);
        const [, section, item, verb] = m;
        const target = find(nodes, "button", verb) ?? find(nodes, "link", item) ?? find(nodes, "link", section);
        return click(need(target, `${verb}, ${item} or ${section}`));
      }
      case "read-value": {
        const product = /price of the (.+)\?/.exec(goal)?.[1];
        const row = nodes.find((n) => n.role === "row" && subtree(nodes, n).some((c) => c.role === "cell" && c.name === product));
        const price = row === undefined ? undefined : subtree(nodes, row).find((c) => c.role === "cell" && c.name.startsWith("$"));
        return { action: { case: "sendMsgToUser", value: { text: price?.name ?? "unknown" } } };
      }
      case "scroll-terms": {
        const box = nodes.find((n) => n.role === "checkbox");
        if (box?.attrs.includes("disabled")) {
          return { action: { case: "scroll", value: { elementId: need(find(nodes, "region"), "terms"), deltaY: 100_000 } } };
        }
        if (!box?.attrs.includes("checked")) return click(need(box, "checkbox"));
        return click(need(find(nodes, "button", quoted[1]), `button ${quoted[1]}`));
      }
      case "delete-row": {
        const email = /email is (\S+)\.$/.exec(goal)?.[1];
        const row = nodes.find((n) => n.role === "row" && subtree(nodes, n).some((c) => c.role === "cell" && c.name === email));
        return click(need(row === undefined ? undefined : find(subtree(nodes, row), "button", "Delete"), `Delete of ${email}`));
      }
      case "copy-code": {
        const shown = nodes.map((n) => /access code is (\w+)\./.exec(n.text)?.[1]).find((c) => c !== undefined);
        if (shown !== undefined) {
          this.code = shown;
          return { action: { case: "goBack", value: {} } };
        }
        if (this.code === undefined) return click(need(find(nodes, "link", "Where is my code?"), "help link"));
        const box = find(nodes, "textbox", "Access code");
        if (box?.text !== this.code) return fill(need(box, "code box"), this.code);
        return click(need(find(nodes, "button", "Unlock"), "Unlock"));
      }
      default:
        throw new Error(`scripted policy: unknown task ${view.task}`);
    }
  }
}

/**
 * A uniformly random agent: a random kind of action on a random element of
 * the tree, with random words. The baseline that the tasks are not trivial.
 */
export class RandomPolicy {
  private readonly random: SeededRandom;

  constructor(seed: bigint) {
    this.random = new SeededRandom(seed);
  }

  act(view: PolicyView): ActionInit {
    const r = this.random;
    const nodes = parseAxtree(view.axtree);
    const refs = nodes.filter((n) => n.ref !== undefined).map((n) => n.ref as string);
    const word = (): string => r.pick(["amber", "oak", "Submit", "42", "yes", "code", "12.50"]);
    const id = (): string => (refs.length === 0 ? "e1" : r.pick(refs));
    const roll = r.next();
    if (roll < 0.45) return click(id());
    if (roll < 0.6) return fill(id(), word());
    if (roll < 0.65) {
      const options = nodes.filter((n) => n.role === "option").map((n) => n.name);
      return { action: { case: "select", value: { elementId: id(), options: [options.length > 0 ? r.pick(options) : word()] } } };
    }
    if (roll < 0.75) return { action: { case: "press", value: { key: r.pick(["Enter", "Tab", "Space", "ArrowDown"]), elementId: id() } } };
    if (roll < 0.85) return { action: { case: "scroll", value: { elementId: r.int(2) === 0 ? id() : "", deltaY: r.int(2000) - 500 } } };
    if (roll < 0.9) return { action: { case: "goBack", value: {} } };
    if (roll < 0.95) return { action: { case: "noop", value: {} } };
    return { action: { case: "sendMsgToUser", value: { text: word() } } };
  }
}
