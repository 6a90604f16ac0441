import { create, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Connect4Action,
  Connect4ActionSchema,
  type Connect4Observation,
  Connect4ObservationSchema,
  Connect4ResetOptionsSchema,
  Connect4StateSchema,
  GameStatus,
} from "../../../gen/openenv/envs/connect4/v1/connect4_pb.js";
import type { EnvironmentFactory, EnvironmentSpec, ResetOptions, StepOutcome } from "../../server/environment.js";
import { Environment } from "../../server/environment.js";
import { rubric, WeightedSum } from "../../server/rubrics/containers.js";
import { evaluateRubric } from "../../server/rubrics/evaluate.js";
import type { Rubric } from "../../server/rubrics/rubric.js";
import { ExponentialDiscountingTrajectoryRubric, TrajectoryRubric } from "../../server/rubrics/trajectory.js";
import { SeededRandom } from "../common/random.js";
import { parseResetOptions } from "../common/reset-options.js";
import { AGENT, Board, OPPONENT } from "./game.js";
import { heuristicOpponent, minimaxOpponent, type Opponent, randomOpponent } from "./opponents.js";

type Obs = typeof Connect4ObservationSchema;

/** The connect4 environment's spec. */
export const connect4Spec: EnvironmentSpec<typeof Connect4ActionSchema, Obs, typeof Connect4StateSchema> = {
  name: "connect4",
  description: "Connect Four against a seedable built-in opponent (random, heuristic or minimax).",
  version: "1.0.0",
  action: Connect4ActionSchema,
  observation: Connect4ObservationSchema,
  state: Connect4StateSchema,
  rewardComponents: ["outcome", "invalid_move"],
};

/** Score of a finished game: +1 won, -1 lost, 0 drawn. */
function outcomeScore(status: GameStatus): number {
  return status === GameStatus.WON ? 1 : status === GameStatus.LOST ? -1 : 0;
}

/**
 * The default reward: `outcome`, a trajectory rubric that is 0 until the game
 * ends and then +1 (won), -1 (lost) or 0 (draw), crediting earlier moves
 * with the outcome discounted by 0.95 per move (in the last step's metadata
 * as `step_credit`); plus `invalid_move`, -1 for a move into a full column
 * in penalty mode.
 */
export function defaultConnect4Rubric(): Rubric<Connect4Action, Connect4Observation> {
  return new WeightedSum<Connect4Action, Connect4Observation>(
    {
      outcome: new ExponentialDiscountingTrajectoryRubric<Connect4Action, Connect4Observation>({
        gamma: 0.95,
        score: (trajectory) => outcomeScore(trajectory.at(-1)?.observation.status ?? GameStatus.IN_PROGRESS),
      }),
      invalid_move: rubric((_a, o) => (o.invalidMove ? -1 : 0)),
    },
    { outcome: 1, invalid_move: 1 },
    { normalized: false },
  );
}

/** Options of {@link Connect4Environment}. */
export interface Connect4Options {
  /** The reward rubric; default {@link defaultConnect4Rubric}. */
  readonly rubric?: Rubric<Connect4Action, Connect4Observation>;
}

/**
 * Connect Four (6x7) against a built-in opponent. The agent plays 'X' (1),
 * the opponent 'O' (2). Reset options: `opponent` ("random", "heuristic"
 * default, "minimax"), `depth` (minimax plies, default 4), `agent_first`
 * (default true), `invalid_move` ("error" default, or "penalty").
 * Terminated on a win, a loss or a draw. The seed drives the opponent's
 * choices, so a seed and the agent's moves reproduce a game.
 */
export class Connect4Environment extends Environment<typeof Connect4ActionSchema, Obs, typeof Connect4StateSchema> {
  static readonly spec = connect4Spec;
  private readonly rubric: Rubric<Connect4Action, Connect4Observation>;
  private board = new Board();
  private random = new SeededRandom(0n);
  private opponent: Opponent = heuristicOpponent;
  private opponentName = "heuristic";
  private depth = 4;
  private agentFirst = true;
  private penaltyMode = false;
  private status = GameStatus.IN_PROGRESS;
  private moves: number[] = [];
  private lastOpponent: number | undefined;
  private winning: number[] = [];
  private invalidMoves = 0;
  private seed = 0n;

  constructor(options: Connect4Options = {}) {
    super();
    this.rubric = options.rubric ?? defaultConnect4Rubric();
  }

  /** A factory serving games with these options. */
  static with(options: Connect4Options): EnvironmentFactory<typeof Connect4ActionSchema, Obs, typeof Connect4StateSchema> {
    return { spec: connect4Spec, create: () => new Connect4Environment(options) };
  }

  reset(options: ResetOptions): StepOutcome<Obs> {
    const opts = parseResetOptions(Connect4ResetOptionsSchema, options.options);
    this.seed = options.seed ?? SeededRandom.randomSeed();
    this.random = new SeededRandom(this.seed);
    this.opponentName = opts.opponent ?? "heuristic";
    this.depth = opts.depth ?? 4;
    this.opponent =
      this.opponentName === "random" ? randomOpponent : this.opponentName === "minimax" ? minimaxOpponent(this.depth) : heuristicOpponent;
    this.agentFirst = opts.agentFirst ?? true;
    this.penaltyMode = opts.invalidMove === "penalty";
    this.board = new Board();
    this.status = GameStatus.IN_PROGRESS;
    this.moves = [];
    this.lastOpponent = undefined;
    this.winning = [];
    this.invalidMoves = 0;
    this.rubric.reset();
    if (!this.agentFirst) this.opponentMove();
    return { observation: this.observe(false), metadata: { seed: this.seed.toString() } };
  }

  async step(action: Connect4Action): Promise<StepOutcome<Obs>> {
    const column = action.column;
    let invalid = false;
    const index = this.board.drop(column, AGENT);
    if (index < 0) {
      if (!this.penaltyMode) {
        throw new ConnectError(
          `column: column ${column} is full; legal columns: ${this.board.legalColumns().join(", ")}`,
          Code.InvalidArgument,
        );
      }
      invalid = true;
      this.invalidMoves++;
    } else {
      this.moves.push(column);
      const line = this.board.lineThrough(index);
      if (line !== undefined) {
        this.status = GameStatus.WON;
        this.winning = line;
      } else if (this.board.full()) {
        this.status = GameStatus.DRAW;
      } else {
        this.opponentMove();
      }
    }
    const observation = this.observe(invalid);
    const done = this.status !== GameStatus.IN_PROGRESS;
    const score = await evaluateRubric(this.rubric, action, observation, { done, step: this.stepCount + 1 });
    const credit = this.stepCredit();
    return {
      observation,
      reward: score.reward,
      rewardComponents: score.components,
      terminated: done,
      metadata: done && credit !== undefined ? { step_credit: [...credit] } : undefined,
    };
  }

  get state() {
    return {
      episodeId: this.episodeId,
      stepCount: this.stepCount,
      board: this.board.cells,
      status: this.status,
      moves: this.moves,
      opponent: this.opponentName,
      depth: this.depth,
      agentFirst: this.agentFirst,
      seed: this.seed,
      invalidMoves: this.invalidMoves,
    };
  }

  /** Per-move credit of the finished game, when the rubric has a trajectory rubric named `outcome`. */
  private stepCredit(): readonly number[] | undefined {
    const outcome = this.rubric.namedChildren().find(([name]) => name === "outcome")?.[1];
    return outcome instanceof TrajectoryRubric ? outcome.stepRewards : undefined;
  }

  private opponentMove(): void {
    const column = this.opponent(this.board, this.random);
    const index = this.board.drop(column, OPPONENT);
    this.moves.push(column);
    this.lastOpponent = column;
    const line = this.board.lineThrough(index);
    if (line !== undefined) {
      this.status = GameStatus.LOST;
      this.winning = line;
    } else if (this.board.full()) {
      this.status = GameStatus.DRAW;
    }
  }

  private observe(invalid: boolean): MessageShape<Obs> {
    return create(Connect4ObservationSchema, {
      board: [...this.board.cells],
      legalColumns: this.status === GameStatus.IN_PROGRESS ? this.board.legalColumns() : [],
      opponentColumn: this.lastOpponent,
      status: this.status,
      invalidMove: invalid,
      winningCells: this.winning,
      render: this.board.render(),
      seed: this.seed,
    });
  }
}
