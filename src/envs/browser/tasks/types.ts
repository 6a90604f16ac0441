import type { SeededRandom } from "../../common/random.js";

/** A request the page made to the task's own site. */
export interface TaskRequest {
  readonly method: string;
  /** The URL's path, e.g. `/click-button/submit`. */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The body of a form POST (`application/x-www-form-urlencoded`); empty otherwise. */
  readonly form: URLSearchParams;
}

/** The task site's answer: an HTML page (404 when a task serves nothing for a path). */
export interface TaskPage {
  readonly status?: number;
  readonly html: string;
}

/** A form the page posted to the task's site, as the browser sent it. */
export interface Submission {
  readonly path: string;
  /** Field name → every value sent for it, in order. */
  readonly fields: Readonly<Record<string, readonly string[]>>;
}

/**
 * What the environment knows of the page's state after an action, gathered
 * from the browser itself: the task site's log of what the page requested,
 * and where the page is. The agent's claims are only in `messages`.
 */
export interface PageState {
  /** URL of the current page. */
  readonly url: string;
  /** Forms posted to the task's site, in order. */
  readonly submissions: readonly Submission[];
  /** Paths of the task pages the browser loaded as documents, in order. */
  readonly visits: readonly string[];
  /** Messages the agent sent with send_msg_to_user, in order. */
  readonly messages: readonly string[];
}

/** A task's judgement of a page state. */
export interface Verdict {
  /** The task is over (the page submitted its form, the answer was sent). */
  readonly done: boolean;
  /** The page's state is what the goal asked for. */
  readonly success: boolean;
}

/** One seeded instance of a task: its pages, its goal and its check. */
export interface TaskInstance {
  /** The instruction shown to the agent. */
  readonly goal: string;
  /** Default step budget. */
  readonly maxSteps: number;
  /** Path of the start page, e.g. `/click-button/`. */
  readonly entry: string;
  /** Serves a request to the task's site; undefined for "not found". */
  serve(request: TaskRequest): TaskPage | undefined;
  /** Judges the page state after an action. */
  check(state: PageState): Verdict;
}

/** A bundled task: a name and a generator of seeded instances. */
export interface TaskDefinition {
  /** Name, e.g. `click-button` (the `task` reset option). */
  readonly name: string;
  /** What the task exercises, for the docs. */
  readonly summary: string;
  /** Builds an instance; the layout and the target depend only on `random`. */
  generate(random: SeededRandom): TaskInstance;
}
