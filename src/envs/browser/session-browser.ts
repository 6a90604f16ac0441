import type { BrowserContext, CDPSession, Page } from "playwright-core";
import type { BrowserAction, ScreenshotOptions } from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
import type { SharedBrowser } from "./chromium.js";
import { DeadlineExceeded, remaining, within } from "./deadline.js";
import { type ActionTarget, perform, Refused } from "./page-actions.js";
import { readSnapshot } from "./page-snapshot.js";
import { captureViewport, type Screenshot } from "./screenshot.js";
import { routeRequest, type TaskSite, taskOrigin } from "./task-site.js";
import type { Submission, TaskInstance } from "./tasks/index.js";

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
  readonly screenshot?: Screenshot;
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
  /** What the request handler sees of the session. */
  private readonly site: TaskSite = {
    task: () => this.task,
    allowed: (href) => this.allowed(href),
    submitted: (submission) => this.submissions.push(submission),
    visited: (path) => this.visits.push(path),
  };

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
        context.route("**/*", (route, request) => routeRequest(routed().site, route, request)),
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
    await within(
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
    await within(deadline, first.goto(`${taskOrigin}${task.entry}`, { waitUntil: "load", timeout: remaining(deadline) }));
    await within(
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
      await within(deadline, perform(this.target(page), action, deadline));
      if (this.active === page && !page.isClosed()) {
        await within(deadline, page.waitForLoadState("load", { timeout: remaining(deadline) }));
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
      const { axtree, title, prefix } = await readSnapshot(page, deadline);
      this.refPrefix.set(page, prefix);
      const truncated = axtree.length > this.limits.maxAxtreeChars;
      const pages = this.pages;
      return {
        url: page.url(),
        title,
        axtree: truncated ? `${axtree.slice(0, this.limits.maxAxtreeChars)}\n- (truncated)` : axtree,
        axtreeTruncated: truncated,
        screenshot:
          screenshot === undefined
            ? undefined
            : await within(
                deadline,
                this.session(page).then((cdp) => captureViewport(cdp, screenshot)),
              ),
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
          const cdp = await within(deadline, this.session(page));
          if (collect) await within(deadline, cdp.send("HeapProfiler.collectGarbage"));
          total += (await within(deadline, cdp.send("Runtime.getHeapUsage"))).usedSize;
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
      const cdp = await within(Date.now() + 1_000, this.session(page));
      await within(Date.now() + 1_000, cdp.send("Page.stopLoading"));
      await within(Date.now() + 1_000, cdp.send("Runtime.evaluate", { expression: "1" }));
      return true;
    } catch {
      if (!this.alive) throw new BrowserGoneError("Chromium went away");
      return false;
    }
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

  private target(page: Page): ActionTarget {
    return {
      page,
      taskEntry: this.task.entry,
      navigationTimeoutMs: this.limits.navigationTimeoutMs,
      refPrefix: () => this.refPrefix.get(page) ?? "",
      allowed: (href) => this.allowed(href),
      cdp: () => this.session(page),
    };
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
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split("\n")[0].replace(/^[a-zA-Z]+\.[a-zA-Z]+: /, "");
}
