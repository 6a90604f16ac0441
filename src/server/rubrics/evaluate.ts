import { isPromiseLike, type MaybePromise, type Rubric, type RubricContext } from "./rubric.js";

/** A rubric tree's verdict on one step: the reward and the named scores of its descendants. */
export interface RubricResult {
  /** The root's score. */
  readonly reward: number;
  /** Last scores of the named descendants by dotted path (see {@link Rubric.scores}). */
  readonly components: Record<string, number>;
}

/**
 * Scores one step with a rubric tree and collects its named scores, for a
 * step's `reward` and `rewardComponents`. Scores left over from earlier steps
 * are cleared first, so components only name rubrics that ran for this step.
 * Synchronous trees give a result at once, asynchronous ones a promise.
 */
export function evaluateRubric<A, O>(rubric: Rubric<A, O>, action: A, observation: O, context: RubricContext): MaybePromise<RubricResult> {
  rubric.clearScores();
  const finish = (reward: number): RubricResult => ({ reward, components: rubric.scores() });
  const score = rubric.score(action, observation, context);
  return isPromiseLike(score) ? score.then(finish) : finish(score);
}
