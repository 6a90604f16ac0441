import type { BrowserContext, CDPSession, Locator, Page, Request, Route } from "playwright-core";
import { type BrowserAction, ImageFormat, MouseButton, type ScreenshotOptions } from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
import type { SharedBrowser } from "./chromium.js";
import type { Submission, TaskInstance, TaskRequest } from "./tasks/index.js";

/** The task pages' origin. `.invalid` never resolves (RFC 2606): the pages exist only inside the session's request handler. */
export const taskOrigin = "http://tasks.openenv.invalid";

/** Per-session limits; see {@link BrowserOptions} for their meaning and defaults. */
export interface SessionLimits {
  readonly maxPages: number;
  readonly jsHeapLimitBytes: number;
  readonly navigationTimeoutMs: number;
  readonly actionTimeoutMs: number;
  readonly maxAxtreeChars: number;
}

/** What the page looks like now. */
export interface PageView {
  readonly url: string;
  readonly title: string;
  readonly axtree: string;
  readonly axtreeTruncated: boolean;
  readonly screenshot?: { readonly data: Uint8Array; readonly mimeType: string; readonly width: number; readonly height: number };
  readonly pages: readonly string[];
  readonly activeIndex: number;
}

/** The session's page hung or its renderer crashed: the episode cannot go on. */
export class PageBrokenError extends Error {
  override readonly name = "PageBrokenError";
}

/** The session's browser context is gone (Chromium exited or was killed). */
export class BrowserGoneError extends Error {
  override readonly name = "BrowserGoneError";
}

/** An action the page refused; its message goes to `last_action_error`. */
class Refused extends Error {}

/** A step's time ran out. */
class DeadlineExceeded extends Error {}

const buttons = {
  [MouseButton.UNSPECIFIED]: "left",
  [MouseButton.LEFT]: "left",
  [MouseButton.MIDDLE]: "middle",
  [MouseButton.RIGHT]: "right",
} as const;

/**
 * One session's view of the shared Chromium: an isolated browser context
 * whose every request goes through {@link handle} (task pages are answered
 * from memory, allowed origins pass, everything else is blocked), its pages
 * (at most `maxPages`), and the actions and observations on the active page.
 */
export class SessionBrowser {
  /** Forms the page posted to the task site, in order. */
  submissions: Submission[] = [];
  /** Task pages loaded as documents, in order. */
  visits: string[] = [];
  private active: Page;
  /** The session's pages, in the order they opened; pages past the limit never join. */
  private readonly pages: Page[] = [];
  private readonly cdp = new WeakMap<Page, Promise<CDPSession>>();
  private pageLimitHit = false;
  /**
   * Playwright prefixes the refs of a document after the page's first with
   * "f<n>"; observations leave the main frame's prefix out (so ids depend only
   * on the document, not on what the page showed before) and actions put it back.
   */
  private readonly refPrefix = new WeakMap<Page, string>();
  /** Pages whose renderer process crashed (e.g. out of memory past the renderer's V8 heap limit). */
  private readonly crashed = new WeakSet<Page>();
  private closedByUs = false;
  private gone = false;

  private constructor(
    private readonly context: BrowserContext,
    first: Page,
    private task: TaskInstance,
    private readonly limits: SessionLimits,
    private readonly allowedOrigins: readonly string[],
  ) {
    this.active = first;
    this.track(first);
    context.on("close", () => {
      this.gone = true;
    });
    context.on("page", (page) => this.onPage(page));
    context.on("dialog", (dialog) => void dialog.dismiss().catch(() => {}));
  }

  /** Opens a context in `shared`, wires its request handling and loads the task's start page. */
  static async open(
    shared: SharedBrowser,
    task: TaskInstance,
    viewport: { width: number; height: number },
    limits: SessionLimits,
    allowedOrigins: readonly string[],
  ): Promise<SessionBrowser> {
    const context = await shared.newContext({ viewport, acceptDownloads: false, serviceWorkers: "block", javaScriptEnabled: true });
    try {
      context.setDefaultNavigationTimeout(limits.navigationTimeoutMs);
      context.setDefaultTimeout(limits.actionTimeoutMs);
      let session: SessionBrowser | undefined;
      const routed = (): SessionBrowser => {
        if (session === undefined) throw new Error("request before the session was ready");
        return session;
      };
      const [page] = await Promise.all([
        context.newPage(),
        context.route("**/*", (route, request) => routed().handle(route, request)),
        context.routeWebSocket(
          () => true,
          (ws) => (routed().allowed(ws.url()) ? ws.connectToServer() : ws.close({ code: 1008, reason: "blocked by the environment" })),
        ),
      ]);
      session = new SessionBrowser(context, page, task, limits, allowedOrigins);
      await page.goto(`${taskOrigin}${task.entry}`, { waitUntil: "load" });
      return session;
    } catch (err) {
      await context.close().catch(() => {});
      throw err;
    }
  }

  /**
   * Starts another task in the same context (a new page costs a renderer
   * process, the slowest part of a reset): closes the other pages, clears
   * cookies, the records and the page's history, sets the viewport, and loads
   * the new start page.
   */
  async load(task: TaskInstance, viewport: { width: number; height: number }, deadline: number): Promise<void> {
    const [first, ...rest] = this.pages;
    if (first === undefined) throw new BrowserGoneError("the session has no page left");
    const size = first.viewportSize();
    await this.within(
      deadline,
      Promise.all([
        ...rest.map((p) => p.close()),
        this.context.clearCookies(),
        size?.width === viewport.width && size.height === viewport.height ? undefined : first.setViewportSize(viewport),
      ]),
    );
    this.active = first;
    this.task = task;
    this.submissions = [];
    this.visits = [];
    await this.within(deadline, first.goto(`${taskOrigin}${task.entry}`, { waitUntil: "load", timeout: remaining(deadline) }));
    await this.within(
      deadline,
      this.session(first).then((cdp) => cdp.send("Page.resetNavigationHistory")),
    );
  }

  /** The context is open and its Chromium runs. */
  get alive(): boolean {
    return !this.gone && !this.closedByUs && this.context.browser()?.isConnected() !== false;
  }

  /** Pages open in the session. */
  get pageCount(): number {
    return this.gone ? 0 : this.pages.length;
  }

  /** The current page's URL. */
  get url(): string {
    return this.gone ? "" : this.active.url();
  }

  /** Closes the context (and with it the session's renderer processes, hung or not). */
  async close(): Promise<void> {
    if (this.closedByUs) return;
    this.closedByUs = true;
    await this.context.close().catch(() => {});
  }

  /**
   * Performs a browser action before `deadline`. Returns "" on success or the
   * reason the page refused it. Throws {@link PageBrokenError} when the
   * page hung (its main thread stopped answering) or its renderer crashed, and
   * {@link BrowserGoneError} when Chromium went away.
   */
  async act(action: BrowserAction, deadline: number): Promise<string> {
    const page = this.active;
    this.pageLimitHit = false;
    try {
      await this.within(deadline, this.perform(page, action, deadline));
      if (this.active === page && !page.isClosed()) {
        await this.within(deadline, page.waitForLoadState("load", { timeout: remaining(deadline) }));
      }
      return this.pageLimitHit ? `the page tried to open a new page, but the session already has ${this.limits.maxPages} (the limit)` : "";
    } catch (err) {
      return this.failure(err, page, `${action.action.case ?? "action"}`);
    }
  }

  /** Reads the active page: URL, title, accessibility tree and, when asked, a screenshot. */
  async observe(screenshot: ScreenshotOptions | undefined, deadline: number): Promise<PageView> {
    const page = this.active;
    try {
      let axtree = "";
      let title = "";
      for (let attempt = 0; ; attempt++) {
        try {
          [axtree, title] = await this.within(
            deadline,
            Promise.all([page.ariaSnapshot({ mode: "ai", timeout: remaining(deadline) }), page.title()]),
          );
          const prefix = /\[ref=(f\d+)?e\d+\]/.exec(axtree)?.[1] ?? "";
          this.refPrefix.set(page, prefix);
          if (prefix !== "") axtree = axtree.replaceAll(`[ref=${prefix}e`, "[ref=e");
          break;
        } catch (err) {
          // A navigation replaced the document while it was read: read the new one.
          if (attempt >= 3 || !/context was destroyed|navigat/i.test((err as Error).message)) throw err;
          await this.within(deadline, page.waitForLoadState("load", { timeout: remaining(deadline) })).catch(() => {});
        }
      }
      const truncated = axtree.length > this.limits.maxAxtreeChars;
      const pages = this.pages;
      return {
        url: page.url(),
        title,
        axtree: truncated ? `${axtree.slice(0, this.limits.maxAxtreeChars)}\n- (truncated)` : axtree,
        axtreeTruncated: truncated,
        screenshot: screenshot === undefined ? undefined : await this.within(deadline, this.capture(page, screenshot)),
        pages: pages.map((p) => p.url()),
        activeIndex: Math.max(0, pages.indexOf(page)),
      };
    } catch (err) {
      const reason = await this.failure(err, page, "reading the page");
      throw new Error(reason);
    }
  }

  /**
   * JavaScript heap used by the session's pages, in bytes. Over the limit, the
   * pages' garbage is collected and the heap measured again, so only live
   * objects count against it.
   */
  async heapBytes(deadline: number): Promise<number> {
    const measure = async (collect: boolean): Promise<number> => {
      let total = 0;
      for (const page of [...this.pages]) {
        try {
          const cdp = await this.within(deadline, this.session(page));
          if (collect) await this.within(deadline, cdp.send("HeapProfiler.collectGarbage"));
          total += (await this.within(deadline, cdp.send("Runtime.getHeapUsage"))).usedSize;
        } catch (err) {
          if (!page.isClosed()) throw err; // a page that closed meanwhile holds nothing
        }
      }
      return total;
    };
    try {
      const total = await measure(false);
      return total > this.limits.jsHeapLimitBytes ? await measure(true) : total;
    } catch (err) {
      if (!this.alive) throw new BrowserGoneError("Chromium went away while the heap was measured");
      // A page that does not answer is caught by reading it; the heap is unknown, not over the limit.
      if (err instanceof DeadlineExceeded) return 0;
      throw err;
    }
  }

  /** The session's JS heap limit, in bytes. */
  get heapLimit(): number {
    return this.limits.jsHeapLimitBytes;
  }

  /** Turns an error of an action into a refusal message, or rethrows it as unresponsive or gone. */
  private async failure(err: unknown, page: Page, what: string): Promise<string> {
    if (!this.alive) throw new BrowserGoneError(`Chromium went away during ${what}`);
    if (err instanceof Refused) return err.message;
    if (this.crashed.has(page)) {
      throw new PageBrokenError("the page's renderer process crashed (for example, out of memory); the session's pages were closed");
    }
    const message = firstLine(err);
    if (err instanceof DeadlineExceeded || /Timeout \d+ms exceeded/.test(message)) {
      if (!(await this.responsive(page))) {
        throw new PageBrokenError(
          `the page stopped responding (its script has run for more than ${this.limits.actionTimeoutMs} ms); the session's pages were closed`,
        );
      }
      if (err instanceof DeadlineExceeded) return `${what} did not finish within the action deadline of ${this.limits.actionTimeoutMs} ms`;
    }
    if (page.isClosed() && this.pages.length > 0) return "";
    return `${what}: ${message}`;
  }

  /**
   * Whether the page's main thread still answers (within a second). Asked over
   * CDP, which, unlike Playwright's evaluate, does not wait for a pending
   * navigation; that navigation is stopped first.
   */
  private async responsive(page: Page): Promise<boolean> {
    if (page.isClosed()) return true;
    try {
      const cdp = await this.within(Date.now() + 1_000, this.session(page));
      await this.within(Date.now() + 1_000, cdp.send("Page.stopLoading"));
      await this.within(Date.now() + 1_000, cdp.send("Runtime.evaluate", { expression: "1" }));
      return true;
    } catch {
      if (!this.alive) throw new BrowserGoneError("Chromium went away");
      return false;
    }
  }

  private async perform(page: Page, action: BrowserAction, deadline: number): Promise<void> {
    const a = action.action;
    const timeout = remaining(deadline);
    switch (a.case) {
      case "goto": {
        const url = this.resolve(page, a.value.url);
        await page.goto(url, { timeout: Math.min(timeout, this.limits.navigationTimeoutMs), waitUntil: "load" });
        return;
      }
      case "click": {
        const el = await this.element(page, a.value.elementId, true);
        await el.click({ timeout, button: buttons[a.value.button] ?? "left", clickCount: a.value.clickCount ?? 1 });
        return;
      }
      case "fill":
        await (await this.element(page, a.value.elementId, true)).fill(a.value.value, { timeout });
        return;
      case "select":
        await (await this.element(page, a.value.elementId, true)).selectOption(a.value.options, { timeout });
        return;
      case "press":
        if (a.value.elementId === "") await page.keyboard.press(a.value.key);
        else await (await this.element(page, a.value.elementId, false)).press(a.value.key, { timeout });
        return;
      case "scroll": {
        const delta = [a.value.deltaX, a.value.deltaY] as const;
        if (a.value.elementId === "") {
          await page.evaluate(([x, y]) => window.scrollBy({ left: x, top: y, behavior: "instant" }), delta);
        } else {
          const el = await this.element(page, a.value.elementId, false);
          await el.evaluate((e, [x, y]) => e.scrollBy({ left: x, top: y, behavior: "instant" }), delta, { timeout });
        }
        // Scroll events are dispatched before the next animation frame's callbacks: let the page react.
        await page.evaluate(() => new Promise<void>((resolve) => requestAnimationFrame(() => resolve())));
        return;
      }
      case "goBack": {
        const cdp = await this.session(page);
        const history = await cdp.send("Page.getNavigationHistory");
        const previous = history.entries[history.currentIndex - 1];
        if (previous === undefined || previous.url === "about:blank") throw new Refused("go_back: there is no previous page");
        await page.goBack({ timeout: Math.min(timeout, this.limits.navigationTimeoutMs), waitUntil: "load" });
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
  private async element(page: Page, id: string, interactive: boolean): Promise<Locator> {
    const el = page.getByRef(id.startsWith("e") ? `${this.refPrefix.get(page) ?? ""}${id}` : id);
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
  private resolve(page: Page, raw: string): string {
    let url: URL;
    try {
      url = new URL(raw, page.url() === "about:blank" ? `${taskOrigin}/` : page.url());
    } catch {
      throw new Refused(`goto: "${raw}" is not a URL`);
    }
    if (url.origin === taskOrigin) {
      if (url.pathname === this.task.entry) return url.href;
      throw new Refused(
        `goto: only the task's start page (${taskOrigin}${this.task.entry}) can be opened directly; reach other pages through the page`,
      );
    }
    if (this.allowed(url.href)) return url.href;
    throw new Refused(`goto: ${url.origin} is not allowed; this task's pages are under ${taskOrigin}${this.task.entry}`);
  }

  /** Whether a URL is on an origin the server allows besides the task site. */
  allowed(href: string): boolean {
    try {
      const origin = new URL(href).origin;
      return this.allowedOrigins.includes(origin);
    } catch {
      return false;
    }
  }

  /** Every request of the context: task pages from memory, allowed origins through, the rest blocked. */
  private async handle(route: Route, request: Request): Promise<void> {
    const url = new URL(request.url());
    if (url.origin !== taskOrigin) {
      if (this.allowed(url.href)) return route.continue().catch(() => {});
      return route.abort("blockedbyclient").catch(() => {});
    }
    const method = request.method();
    const body = method === "POST" ? (request.postData() ?? "") : "";
    const req: TaskRequest = { method, path: url.pathname, query: url.searchParams, form: new URLSearchParams(body) };
    const page = this.task.serve(req);
    if (page !== undefined && request.isNavigationRequest()) {
      if (method === "POST") this.submissions.push({ path: req.path, fields: formFields(req.form) });
      else this.visits.push(req.path);
    }
    await route
      .fulfill({
        status: page === undefined ? 404 : (page.status ?? 200),
        contentType: "text/html; charset=utf-8",
        body: page?.html ?? "<!doctype html><title>Not found</title><p>Not found.</p>",
      })
      .catch(() => {});
  }

  private onPage(page: Page): void {
    if (this.pages.includes(page)) return;
    if (this.pages.length >= this.limits.maxPages) {
      this.pageLimitHit = true;
      void page.close().catch(() => {});
      return;
    }
    this.track(page);
    this.active = page;
  }

  /** Counts a page as the session's until it closes; when the active one closes, the last one left becomes active. */
  private track(page: Page): void {
    this.pages.push(page);
    page.once("crash", () => this.crashed.add(page));
    page.once("close", () => {
      const i = this.pages.indexOf(page);
      if (i >= 0) this.pages.splice(i, 1);
      if (page === this.active && this.pages.length > 0) this.active = this.pages[this.pages.length - 1];
    });
  }

  private session(page: Page): Promise<CDPSession> {
    let s = this.cdp.get(page);
    if (s === undefined) {
      s = this.context.newCDPSession(page);
      s.catch(() => {});
      this.cdp.set(page, s);
    }
    return s;
  }

  /** A screenshot of the viewport via CDP, which can scale the image down in the browser. */
  private async capture(page: Page, options: ScreenshotOptions): Promise<NonNullable<PageView["screenshot"]>> {
    const cdp = await this.session(page);
    const { cssVisualViewport: v } = await cdp.send("Page.getLayoutMetrics");
    const width = Math.min(options.width ?? v.clientWidth, v.clientWidth);
    const scale = width / v.clientWidth;
    const jpeg = options.format === ImageFormat.JPEG;
    const shot = await cdp.send("Page.captureScreenshot", {
      format: jpeg ? "jpeg" : "png",
      ...(jpeg ? { quality: options.jpegQuality ?? 80 } : {}),
      clip: { x: v.pageX, y: v.pageY, width: v.clientWidth, height: v.clientHeight, scale },
    });
    return {
      data: Buffer.from(shot.data, "base64"),
      mimeType: jpeg ? "image/jpeg" : "image/png",
      width: Math.round(v.clientWidth * scale),
      height: Math.round(v.clientHeight * scale),
    };
  }

  /** Races a promise against the deadline (Playwright's own timeouts do not cover everything, e.g. CDP calls). */
  private within<T>(deadline: number, promise: Promise<T>): Promise<T> {
    promise.catch(() => {});
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DeadlineExceeded("deadline exceeded")), remaining(deadline));
      promise.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(e);
        },
      );
    });
  }
}

function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0].replace(/^[a-zA-Z]+\.[a-zA-Z]+: /, "");
}

function formFields(form: URLSearchParams): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of form) {
    out[k] ??= [];
    out[k].push(v);
  }
  return out;
}
