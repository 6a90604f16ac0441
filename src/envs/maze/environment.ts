import { create, type MessageShape } from "@bufbuild/protobuf";
import {
  Direction,
  type MazeAction,
  MazeActionSchema,
  type MazeObservation,
  MazeObservationSchema,
  MazeResetOptionsSchema,
  MazeStateSchema,
} from "../../../gen/openenv/envs/maze/v1/maze_pb.js";
import type { EnvironmentFactory, EnvironmentSpec, ResetOptions, StepOutcome } from "../../server/environment.js";
import { Environment } from "../../server/environment.js";
import { rubric, WeightedSum } from "../../server/rubrics/containers.js";
import { evaluateRubric, type RubricResult } from "../../server/rubrics/evaluate.js";
import { isPromiseLike, type Rubric } from "../../server/rubrics/rubric.js";
import { SeededRandom } from "../common/random.js";
import { parseResetOptions } from "../common/reset-options.js";
import { generateMaze, type MazeLayout, moves } from "./layout.js";

type Obs = typeof MazeObservationSchema;

/** The maze environment's spec. */
export const mazeSpec: EnvironmentSpec<typeof MazeActionSchema, Obs, typeof MazeStateSchema> = {
  name: "maze",
  description: "Grid-world maze with seedable layouts: reach the goal before the step limit.",
  version: "1.0.0",
  action: MazeActionSchema,
  observation: MazeObservationSchema,
  state: MazeStateSchema,
  rewardComponents: ["goal", "step_cost", "wall"],
};

/**
 * The maze's default reward: +1 on reaching the goal, -0.01 per move, -0.05
 * more for a move into a wall. Components: `goal` (1 at the goal),
 * `step_cost` (always 1) and `wall` (1 when the move hit a wall).
 */
export function defaultMazeRubric(): Rubric<MazeAction, MazeObservation> {
  return new WeightedSum<MazeAction, MazeObservation>(
    {
      goal: rubric((_a, o) => (o.position?.row === o.goal?.row && o.position?.col === o.goal?.col ? 1 : 0)),
      step_cost: rubric(() => 1),
      wall: rubric((_a, o) => (o.hitWall ? 1 : 0)),
    },
    { goal: 1, step_cost: -0.01, wall: -0.05 },
    { normalized: false },
  );
}

/** Options of {@link MazeEnvironment}. */
export interface MazeOptions {
  /** The reward rubric; default {@link defaultMazeRubric}. */
  readonly rubric?: Rubric<MazeAction, MazeObservation>;
}

const directions = [Direction.UP, Direction.DOWN, Direction.LEFT, Direction.RIGHT];

/**
 * A grid-world maze (OpenEnv's maze_env, with typed moves): the agent starts
 * top-left and must reach the goal bottom-right. Reset options: `width`,
 * `height` (rooms, default 5x5), `max_steps` (default 4*width*height),
 * `loop_fraction`. The episode is terminated at the goal and truncated at the
 * step limit. The same seed gives the same layout.
 */
export class MazeEnvironment extends Environment<typeof MazeActionSchema, Obs, typeof MazeStateSchema> {
  static readonly spec = mazeSpec;
  private readonly rubric: Rubric<MazeAction, MazeObservation>;
  private layout: MazeLayout | undefined;
  private row = 0;
  private col = 0;
  private seed = 0n;
  private maxSteps = 0;
  private wallHits = 0;
  private solved = false;

  constructor(options: MazeOptions = {}) {
    super();
    this.rubric = options.rubric ?? defaultMazeRubric();
  }

  /** A factory serving mazes with these options. */
  static with(options: MazeOptions): EnvironmentFactory<typeof MazeActionSchema, Obs, typeof MazeStateSchema> {
    return { spec: mazeSpec, create: () => new MazeEnvironment(options) };
  }

  reset(options: ResetOptions): StepOutcome<Obs> {
    const opts = parseResetOptions(MazeResetOptionsSchema, options.options);
    const width = opts.width ?? 5;
    const height = opts.height ?? 5;
    this.seed = options.seed ?? SeededRandom.randomSeed();
    this.layout = generateMaze(width, height, opts.loopFraction ?? 0, new SeededRandom(this.seed));
    this.maxSteps = opts.maxSteps ?? 4 * width * height;
    [this.row, this.col] = this.layout.start;
    this.wallHits = 0;
    this.solved = false;
    this.rubric.reset();
    return { observation: this.observe(false), metadata: { seed: this.seed.toString() } };
  }

  step(action: MazeAction): StepOutcome<Obs> | Promise<StepOutcome<Obs>> {
    const layout = this.current();
    const [dy, dx] = moves[action.direction];
    const r = this.row + dy;
    const c = this.col + dx;
    const hitWall = layout.walls[r * layout.cols + c];
    if (hitWall) {
      this.wallHits++;
    } else {
      this.row = r;
      this.col = c;
    }
    this.solved = this.row === layout.goal[0] && this.col === layout.goal[1];
    const steps = this.stepCount + 1;
    const truncated = !this.solved && steps >= this.maxSteps;
    const observation = this.observe(hitWall, steps);
    const finish = (score: RubricResult): StepOutcome<Obs> => ({
      observation,
      reward: score.reward,
      rewardComponents: score.components,
      terminated: this.solved,
      truncated,
    });
    const scored = evaluateRubric(this.rubric, action, observation, { done: this.solved || truncated, step: steps });
    return isPromiseLike(scored) ? scored.then(finish) : finish(scored);
  }

  get state() {
    const layout = this.current();
    return {
      episodeId: this.episodeId,
      stepCount: this.stepCount,
      position: { row: this.row, col: this.col },
      goal: { row: layout.goal[0], col: layout.goal[1] },
      grid: gridRows(layout, false, 0, 0),
      seed: this.seed,
      maxSteps: this.maxSteps,
      wallHits: this.wallHits,
      solved: this.solved,
    };
  }

  private current(): MazeLayout {
    if (this.layout === undefined) throw new Error("the maze has no layout before reset");
    return this.layout;
  }

  private observe(hitWall: boolean, steps = 0): MessageShape<Obs> {
    const layout = this.current();
    const legal = directions.filter((d) => {
      const [dy, dx] = moves[d];
      return !layout.walls[(this.row + dy) * layout.cols + (this.col + dx)];
    });
    return create(MazeObservationSchema, {
      position: { row: this.row, col: this.col },
      goal: { row: layout.goal[0], col: layout.goal[1] },
      legalDirections: legal,
      hitWall,
      stepsRemaining: Math.max(0, this.maxSteps - steps),
      distanceToGoal: layout.distance[this.row * layout.cols + this.col],
      render: `${gridRows(layout, true, this.row, this.col).join("\n")}\n`,
      rows: layout.rows,
      cols: layout.cols,
      seed: this.seed,
    });
  }
}

/** The grid as text rows: '#' wall, '.' open, and with `marks`, 'G' goal and 'A' agent. */
function gridRows(layout: MazeLayout, marks: boolean, row: number, col: number): string[] {
  const out: string[] = [];
  for (let r = 0; r < layout.rows; r++) {
    let line = "";
    for (let c = 0; c < layout.cols; c++) {
      if (marks && r === row && c === col) line += "A";
      else if (marks && r === layout.goal[0] && c === layout.goal[1]) line += "G";
      else line += layout.walls[r * layout.cols + c] ? "#" : ".";
    }
    out.push(line);
  }
  return out;
}
