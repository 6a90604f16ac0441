import { create, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type BrowserAction,
  BrowserActionSchema,
  BrowserObservationSchema,
  BrowserResetOptionsSchema,
  BrowserStateSchema,
  type ScreenshotOptions,
} from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
import type { EnvironmentFactory, EnvironmentSpec, ResetOptions, StepContext, StepOutcome } from "../../server/environment.js";
import { Environment } from "../../server/environment.js";
import { evaluateRubric } from "../../server/rubrics/evaluate.js";
import type { Rubric } from "../../server/rubrics/rubric.js";
import { SeededRandom } from "../common/random.js";
import { parseResetOptions } from "../common/reset-options.js";
import { SharedBrowser } from "./chromium.js";
import { type BrowserOptions, parseOrigins } from "./options.js";
import { type BrowserStepState, BrowserTaskRubric } from "./rubric.js";
import { BrowserGoneError, PageBrokenError, type PageView, SessionBrowser, type SessionLimits } from "./session-browser.js";
import { browserTasks, findTask, type PageState, type TaskDefinition, type TaskInstance } from "./tasks/index.js";

type Action = typeof BrowserActionSchema;
type Obs = typeof BrowserObservationSchema;
type State = typeof BrowserStateSchema;

/** The browser environment's spec. */
export const browserSpec: EnvironmentSpec<Action, Obs, State> = {
  name: "browser",
  description: "Web tasks (MiniWoB-style, served locally) in a real Chromium: act on elements of the accessibility tree.",
  version: "1.0.0",
  action: BrowserActionSchema,
  observation: BrowserObservationSchema,
  state: BrowserStateSchema,
  rewardComponents: ["success"],
};

/** A factory with its own Chromium, closed with the server. */
export interface BrowserFactory extends EnvironmentFactory<Action, Obs, State> {
  /** The factory's Chromium. */
  readonly browser: SharedBrowser;
  /** Closes the factory's Chromium. */
  close(): Promise<void>;
}

interface Episode {
  readonly task: TaskDefinition;
  readonly instance: TaskInstance;
  readonly seed: bigint;
  readonly maxSteps: number;
  readonly screenshot: ScreenshotOptions | undefined;
  readonly viewport: { width: number; height: number };
  /** Browser actions that ran, in order: what rebuilds the episode on a new Chromium. */
  readonly history: BrowserAction[];
  readonly messages: string[];
  browser: SessionBrowser | undefined;
  /** The context that died, kept to check a rebuilt one against. */
  lost: SessionBrowser | undefined;
  url: string;
  restarts: number;
  heap: number;
  done: boolean;
  success: boolean;
}

let processBrowser: SharedBrowser | undefined;

/** The Chromium of environments created without a factory (`new BrowserEnvironment()`): one per process. */
function defaultBrowser(): SharedBrowser {
  processBrowser ??= new SharedBrowser();
  return processBrowser;
}

/**
 * Web tasks in a real Chromium (OpenEnv's browsergym, with MiniWoB-style tasks
 * written for this project and served by the environment itself). Each
 * session is an isolated browser context in one shared Chromium. The agent
 * reads the page's accessibility tree (`axtree_txt`, elements marked
 * `[ref=eN]`) and acts on elements by id; the reward is the task's check of
 * the page's final state. See `docs/environments.md` for the tasks and limits.
 */
export class BrowserEnvironment extends Environment<Action, Obs, State> {
  static readonly spec = browserSpec;
  private readonly shared: SharedBrowser;
  private readonly rubric: Rubric<BrowserAction, BrowserStepState>;
  private readonly limits: SessionLimits;
  private readonly allowedOrigins: readonly string[];
  private episode: Episode | undefined;

  constructor(options: BrowserOptions = {}) {
    super();
    this.shared = options.browser ?? defaultBrowser();
    this.rubric = options.rubric ?? new BrowserTaskRubric();
    this.limits = {
      maxPages: options.maxPages ?? 4,
      jsHeapLimitBytes: (options.jsHeapLimitMb ?? 256) * 1024 * 1024,
      navigationTimeoutMs: options.navigationTimeoutMs ?? 10_000,
      actionTimeoutMs: options.actionTimeoutMs ?? 10_000,
      maxAxtreeChars: options.maxAxtreeChars ?? 100_000,
    };
    this.allowedOrigins = parseOrigins(options.allowedOrigins ?? (process.env.OPENENV_BROWSER_ALLOWED_ORIGINS ?? "").split(/[\s,]+/));
  }

  /** A factory serving browser sessions with these options and a Chromium of its own, closed with the server. */
  static with(options: BrowserOptions = {}): BrowserFactory {
    const browser = options.browser ?? new SharedBrowser(options);
    const withBrowser = { ...options, browser };
    return {
      spec: browserSpec,
      browser,
      create: () => new BrowserEnvironment(withBrowser),
      close: () => browser.close(),
    };
  }

  async reset(options: ResetOptions): Promise<StepOutcome<Obs>> {
    const opts = parseResetOptions(BrowserResetOptionsSchema, options.options);
    const previous = this.episode?.browser;
    if (this.episode !== undefined) this.episode.browser = undefined;
    const seed = options.seed ?? SeededRandom.randomSeed();
    const random = new SeededRandom(seed);
    const task = opts.task !== undefined ? findTask(opts.task) : random.pick(browserTasks);
    if (task === undefined) throw new ConnectError(`task: unknown task "${opts.task}"`, Code.InvalidArgument);
    const instance = task.generate(random);
    const viewport = { width: opts.viewportWidth ?? 800, height: opts.viewportHeight ?? 600 };
    const episode: Episode = {
      task,
      instance,
      seed,
      maxSteps: opts.maxSteps ?? instance.maxSteps,
      screenshot: opts.screenshot,
      viewport,
      history: [],
      messages: [],
      browser: undefined,
      lost: undefined,
      url: "",
      restarts: 0,
      heap: 0,
      done: false,
      success: false,
    };
    this.episode = episode;
    this.rubric.reset();
    const browser = await this.reuse(previous, episode);
    if (options.signal.aborted) {
      await browser.close();
      throw options.signal.reason;
    }
    episode.browser = browser;
    const view = await browser.observe(episode.screenshot, this.deadline(Number.POSITIVE_INFINITY));
    episode.url = view.url;
    return { observation: this.observation(episode, view, "", 0), metadata: { seed: seed.toString(), task: task.name } };
  }

  async step(action: BrowserAction, ctx: StepContext): Promise<StepOutcome<Obs>> {
    const episode = this.episode;
    if (episode === undefined) throw new ConnectError("the browser environment has no episode before reset", Code.FailedPrecondition);
    const kind = action.action.case;
    if (kind === undefined) {
      throw new ConnectError(
        "action: one of goto, click, fill, select, press, scroll, go_back, noop or send_msg_to_user is required",
        Code.InvalidArgument,
      );
    }
    let browser = episode.browser;
    let restarted = false;
    if (browser === undefined || !browser.alive) {
      browser = await this.rebuild(episode, ctx.deadline);
      restarted = true;
    }
    let error = "";
    let ended: string | undefined;
    let view: PageView | undefined;
    try {
      if (kind === "sendMsgToUser") {
        episode.messages.push(action.action.value.text);
      } else {
        error = await browser.act(action, this.deadline(ctx.deadline));
        episode.history.push(action);
      }
      // The heap is measured while the page is read; an episode over its limit ends without the view.
      const [heap, seen] = await Promise.all([
        browser.heapBytes(this.deadline(ctx.deadline)),
        browser.observe(episode.screenshot, this.deadline(ctx.deadline)),
      ]);
      episode.heap = heap;
      if (heap > browser.heapLimit) {
        ended = `the session's pages use ${mib(heap)} MiB of JavaScript heap, more than the limit of ${mib(browser.heapLimit)} MiB; the episode was ended`;
      } else {
        view = seen;
        episode.url = seen.url;
      }
    } catch (err) {
      if (err instanceof BrowserGoneError) {
        episode.lost = browser;
        episode.browser = undefined;
        throw new ConnectError(
          `Chromium exited during this ${kind} action, so whether it took effect is unknown; the next step rebuilds the episode on a new Chromium (if the page's state allows), or reset`,
          Code.Unavailable,
        );
      }
      ended = err instanceof PageBrokenError ? `${err.message}; the episode was ended` : (err as Error).message;
    }
    const stepNumber = this.stepCount + 1;
    const page: PageState = { url: episode.url, submissions: browser.submissions, visits: browser.visits, messages: episode.messages };
    const verdict = episode.instance.check(page);
    const terminated = verdict.done;
    const truncated = !terminated && (ended !== undefined || stepNumber >= episode.maxSteps);
    const lastError = [error, ended].filter((e) => e !== undefined && e !== "").join("; ");
    const observation = this.observation(episode, view, lastError, stepNumber);
    const score = await evaluateRubric(
      this.rubric,
      action,
      { task: episode.task.name, page, verdict, lastActionError: lastError },
      { done: terminated || truncated, step: stepNumber, signal: ctx.signal },
    );
    episode.success = verdict.success;
    episode.done = terminated || truncated;
    // A context that hit a limit (a hung page, too much memory) is not reused; a healthy one serves the next reset.
    if (ended !== undefined) await this.closeBrowser();
    return {
      observation,
      reward: score.reward,
      rewardComponents: score.components,
      terminated,
      truncated,
      ...(restarted ? { metadata: { browser_restarted: true, browser_restarts: episode.restarts } } : {}),
    };
  }

  get state() {
    const e = this.episode;
    return {
      episodeId: this.episodeId,
      stepCount: this.stepCount,
      task: e?.task.name ?? "",
      seed: e?.seed ?? 0n,
      goal: e?.instance.goal ?? "",
      maxSteps: e?.maxSteps ?? 0,
      url: e?.url ?? "",
      pageCount: e?.browser?.pageCount ?? 0,
      success: e?.success ?? false,
      done: e?.done ?? false,
      messagesToUser: e?.messages ?? [],
      jsHeapBytes: BigInt(e?.heap ?? 0),
      browserRestarts: e?.restarts ?? 0,
    };
  }

  override async close(): Promise<void> {
    await this.closeBrowser();
  }

  private async closeBrowser(): Promise<void> {
    const browser = this.episode?.browser;
    if (this.episode !== undefined) this.episode.browser = undefined;
    await browser?.close();
  }

  /** The session's context of the last episode loaded with the new task, or (when it is gone or fails) a new context. */
  private async reuse(previous: SessionBrowser | undefined, episode: Episode): Promise<SessionBrowser> {
    if (previous?.alive) {
      try {
        await previous.load(episode.instance, episode.viewport, this.deadline(Number.POSITIVE_INFINITY));
        return previous;
      } catch {
        // fall through to a fresh context
      }
    }
    await previous?.close();
    return this.open(episode);
  }

  private open(episode: Episode): Promise<SessionBrowser> {
    return SessionBrowser.open(this.shared, episode.instance, episode.viewport, this.limits, this.allowedOrigins);
  }

  /** The deadline of one action (or one observation): the action timeout, within the step's deadline. */
  private deadline(stepDeadline: number): number {
    return Math.min(stepDeadline, Date.now() + this.limits.actionTimeoutMs);
  }

  /**
   * After Chromium died (killed, crashed, out of memory) the session's context
   * is gone. Its pages are a function of the seed and the actions, so the
   * episode is rebuilt by replaying its actions in a new context; it goes on
   * only when the replay leads the task site through the same requests.
   */
  private async rebuild(episode: Episode, stepDeadline: number): Promise<SessionBrowser> {
    const lost = episode.lost ?? episode.browser;
    episode.lost = lost;
    episode.browser = undefined;
    let fresh: SessionBrowser | undefined;
    try {
      fresh = await this.open(episode);
      await fresh.observe(undefined, this.deadline(stepDeadline));
      for (const action of episode.history) {
        await fresh.act(action, this.deadline(stepDeadline));
        await fresh.observe(undefined, this.deadline(stepDeadline));
      }
      const same = lost === undefined || (sameJson(fresh.submissions, lost.submissions) && sameJson(fresh.visits, lost.visits));
      if (!same) throw new Error("replaying the episode's actions did not reproduce the page's requests");
    } catch (err) {
      await fresh?.close();
      throw new ConnectError(
        `the episode could not be rebuilt after Chromium restarted (${(err as Error).message}); reset to start a new episode`,
        Code.Aborted,
      );
    }
    episode.lost = undefined;
    episode.browser = fresh;
    episode.restarts++;
    return fresh;
  }

  private observation(episode: Episode, view: PageView | undefined, error: string, steps: number): MessageShape<Obs> {
    return create(BrowserObservationSchema, {
      goal: episode.instance.goal,
      axtreeTxt: view?.axtree ?? "",
      axtreeTruncated: view?.axtreeTruncated ?? false,
      url: view?.url ?? episode.url,
      title: view?.title ?? "",
      lastActionError: error,
      screenshot: view?.screenshot,
      task: episode.task.name,
      stepsRemaining: Math.max(0, episode.maxSteps - steps),
      openPagesUrls: [...(view?.pages ?? [])],
      activePageIndex: view?.activeIndex ?? 0,
      seed: episode.seed,
    });
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
