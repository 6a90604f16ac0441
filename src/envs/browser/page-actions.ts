import type { CDPSession, Locator, Page } from "playwright-core";
import { type BrowserAction, MouseButton } from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
import { remaining } from "./deadline.js";
import { taskOrigin } from "./task-site.js";

/** An action the page refused; its message goes to `last_action_error`. */
export class Refused extends Error {}

/** The page an action runs on, and what of the session it needs. */
export interface ActionTarget {
  readonly page: Page;
  /** The start page of the session's task (the one task page goto may open). */
  readonly taskEntry: string;
  readonly navigationTimeoutMs: number;
  /** The main frame's ref prefix, which observations leave out of ids. */
  refPrefix(): string;
  allowed(href: string): boolean;
  cdp(): Promise<CDPSession>;
}

const buttons = {
  [MouseButton.UNSPECIFIED]: "left",
  [MouseButton.LEFT]: "left",
  [MouseButton.MIDDLE]: "middle",
  [MouseButton.RIGHT]: "right",
} as const;

/** Performs a browser action on the page; throws {@link Refused} when the page cannot take it. */
export async function perform(target: ActionTarget, action: BrowserAction, deadline: number): Promise<void> {
  const page = target.page;
  const a = action.action;
  const timeout = remaining(deadline);
  switch (a.case) {
    case "goto": {
      const url = resolveUrl(target, a.value.url);
      await page.goto(url, { timeout: Math.min(timeout, target.navigationTimeoutMs), waitUntil: "load" });
      return;
    }
    case "click": {
      const el = await element(target, a.value.elementId, true);
      await el.click({ timeout, button: buttons[a.value.button] ?? "left", clickCount: a.value.clickCount ?? 1 });
      return;
    }
    case "fill":
      await (await element(target, a.value.elementId, true)).fill(a.value.value, { timeout });
      return;
    case "select":
      await (await element(target, a.value.elementId, true)).selectOption(a.value.options, { timeout });
      return;
    case "press":
      if (a.value.elementId === "") await page.keyboard.press(a.value.key);
      else await (await element(target, a.value.elementId, false)).press(a.value.key, { timeout });
      return;
    case "scroll": {
      const delta = [a.value.deltaX, a.value.deltaY] as const;
      if (a.value.elementId === "") {
        await page.evaluate(([x, y]) => window.scrollBy({ left: x, top: y, behavior: "instant" }), delta);
      } else {
        const el = await element(target, a.value.elementId, false);
        await el.evaluate((e, [x, y]) => e.scrollBy({ left: x, top: y, behavior: "instant" }), delta, { timeout });
      }
      // Scroll events are dispatched before the next animation frame's callbacks: let the page react.
      await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => resolve())));
      return;
    }
    case "goBack": {
      const cdp = await target.cdp();
      const history = await cdp.send("Page.getNavigationHistory");
      const previous = history.entries[history.currentIndex - 1];
      if (previous === undefined || previous.url === "about:blank") throw new Refused("go_back: there is no previous page");
      await page.goBack({ timeout: Math.min(timeout, target.navigationTimeoutMs), waitUntil: "load" });
      return;
    }
    case "noop":
      if (a.value.waitMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(a.value.waitMs, timeout)));
      return;
    default:
      return;
  }
}

/** The element with an id of the latest snapshot, checked to be there (and, for pointer actions, visible and enabled). */
async function element(target: ActionTarget, id: string, interactive: boolean): Promise<Locator> {
  const page = target.page;
  const el = page.getByRef(id.startsWith("e") ? `${target.refPrefix()}${id}` : id);
  if ((await el.count()) === 0) {
    throw new Refused(`no element with id "${id}" on the current page (ids come from the latest axtree_txt)`);
  }
  if (interactive) {
    const { visible, disabled } = await el.evaluate((e) => ({
      visible: e.checkVisibility(),
      disabled: e.matches(":disabled") || e.closest("[aria-disabled=true]") !== null,
    }));
    if (!visible) throw new Refused(`element "${id}" is not visible`);
    if (disabled) throw new Refused(`element "${id}" is disabled`);
  }
  return el;
}

/** An absolute URL that goto may open, or a refusal. */
function resolveUrl(target: ActionTarget, raw: string): string {
  const page = target.page;
  let url: URL;
  try {
    url = new URL(raw, page.url() === "about:blank" ? `${taskOrigin}/` : page.url());
  } catch {
    throw new Refused(`goto: "${raw}" is not a URL`);
  }
  if (url.origin === taskOrigin) {
    if (url.pathname === target.taskEntry) return url.href;
    throw new Refused(
      `goto: only the task's start page (${taskOrigin}${target.taskEntry}) can be opened directly; reach other pages through the page`,
    );
  }
  if (target.allowed(url.href)) return url.href;
  throw new Refused(`goto: ${url.origin} is not allowed; this task's pages are under ${taskOrigin}${target.taskEntry}`);
}
