import type { BrowserAction } from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
import { rubric } from "../../server/rubrics/containers.js";
import { type MaybePromise, Rubric, type RubricContext } from "../../server/rubrics/rubric.js";
import type { PageState, Verdict } from "./tasks/index.js";

/** What the rubric scores after a step: the page's state as the browser reported it, and the task's check of it. */
export interface BrowserStepState {
  /** Name of the task. */
  readonly task: string;
  /** The page's state: what it posted to the task site, what it loaded, where it is, the messages sent. */
  readonly page: PageState;
  /** The task's judgement of `page`. */
  readonly verdict: Verdict;
  /** The step's `last_action_error`. */
  readonly lastActionError: string;
}

/**
 * The browser environment's default reward: 1 when the episode ends with
 * the page in the state the goal asked for (the task's check of what the page
 * posted, loaded or shows), else 0. Component `success` is that check on
 * every step.
 */
export class BrowserTaskRubric extends Rubric<BrowserAction, BrowserStepState> {
  readonly success = this.register(
    "success",
    rubric<BrowserAction, BrowserStepState>((_a, s) => (s.verdict.success ? 1 : 0)),
  );

  protected forward(action: BrowserAction, state: BrowserStepState, context: RubricContext): MaybePromise<number> {
    const success = this.success.score(action, state, context) as number;
    return context.done ? success : 0;
  }
}
