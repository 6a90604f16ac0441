import { type MaybePromise, Rubric, type RubricContext } from "./rubric.js";

/** One recorded step of an episode. */
export interface TrajectoryStep<A, O> {
  readonly action: A;
  readonly observation: O;
}

/**
 * Scores a whole episode rather than single steps (delayed reward). It
 * records every (action, observation) pair, returns `intermediateReward`
 * until the step that ends the episode (`context.done`), then returns
 * {@link scoreTrajectory} of the whole trajectory and computes the credit
 * each step receives ({@link stepRewards}).
 */
export abstract class TrajectoryRubric<A = unknown, O = unknown> extends Rubric<A, O> {
  private steps: TrajectoryStep<A, O>[] = [];
  private credit: number[] | undefined;

  constructor(readonly intermediateReward = 0) {
    super();
  }

  /** Scores a finished episode. */
  protected abstract scoreTrajectory(trajectory: readonly TrajectoryStep<A, O>[]): MaybePromise<number>;

  /** The credit of each step given the episode's final score, in step order. */
  abstract computeStepRewards(trajectory: readonly TrajectoryStep<A, O>[], finalScore: number): number[];

  /** A copy of the steps recorded in this episode. */
  get trajectory(): TrajectoryStep<A, O>[] {
    return [...this.steps];
  }

  /** Per-step credit of the finished episode; undefined while it runs. */
  get stepRewards(): readonly number[] | undefined {
    return this.credit;
  }

  protected forward(action: A, observation: O, context: RubricContext): MaybePromise<number> {
    this.steps.push({ action, observation });
    if (!context.done) return this.intermediateReward;
    const finish = (score: number): number => {
      this.credit = this.computeStepRewards(this.steps, score);
      return score;
    };
    const s = this.scoreTrajectory(this.steps);
    return typeof s === "number" ? finish(s) : s.then(finish);
  }

  protected override onReset(): void {
    this.steps = [];
    this.credit = undefined;
  }
}

/** Options of {@link ExponentialDiscountingTrajectoryRubric}. */
export interface DiscountingOptions<A, O> {
  /** Discount factor in [0, 1]; default 0.99. */
  readonly gamma?: number;
  /** Score of the steps before the last; default 0. */
  readonly intermediateReward?: number;
  /** Scores the finished episode; subclasses may override `scoreTrajectory` instead. */
  readonly score?: (trajectory: readonly TrajectoryStep<A, O>[]) => MaybePromise<number>;
}

/**
 * A trajectory rubric whose per-step credit is the final score discounted by
 * distance from the end: `r_t = gamma^(T-1-t) * R` (OpenEnv's
 * `ExponentialDiscountingTrajectoryRubric`).
 */
export class ExponentialDiscountingTrajectoryRubric<A = unknown, O = unknown> extends TrajectoryRubric<A, O> {
  readonly gamma: number;
  private readonly scoreFn: DiscountingOptions<A, O>["score"];

  constructor(options: DiscountingOptions<A, O> = {}) {
    super(options.intermediateReward ?? 0);
    const gamma = options.gamma ?? 0.99;
    if (!(gamma >= 0 && gamma <= 1)) throw new Error(`gamma must be in [0, 1], got ${gamma}`);
    this.gamma = gamma;
    this.scoreFn = options.score;
  }

  protected scoreTrajectory(trajectory: readonly TrajectoryStep<A, O>[]): MaybePromise<number> {
    if (this.scoreFn === undefined) {
      throw new Error("ExponentialDiscountingTrajectoryRubric needs a score function (options.score) or a scoreTrajectory override");
    }
    return this.scoreFn(trajectory);
  }

  computeStepRewards(trajectory: readonly TrajectoryStep<A, O>[], finalScore: number): number[] {
    const last = trajectory.length - 1;
    return trajectory.map((_, t) => this.gamma ** (last - t) * finalScore);
  }

  protected override params() {
    return { gamma: this.gamma, intermediateReward: this.intermediateReward };
  }
}
