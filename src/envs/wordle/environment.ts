import { create, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type GuessFeedback,
  GuessFeedbackSchema,
  LetterFeedback,
  type WordleAction,
  WordleActionSchema,
  type WordleObservation,
  WordleObservationSchema,
  WordleResetOptionsSchema,
  WordleStateSchema,
} from "../../../gen/openenv/envs/wordle/v1/wordle_pb.js";
import type { EnvironmentFactory, EnvironmentSpec, ResetOptions, StepOutcome } from "../../server/environment.js";
import { Environment } from "../../server/environment.js";
import { rubric, WeightedSum } from "../../server/rubrics/containers.js";
import { evaluateRubric, type RubricResult } from "../../server/rubrics/evaluate.js";
import { isPromiseLike, type Rubric } from "../../server/rubrics/rubric.js";
import { SeededRandom } from "../common/random.js";
import { parseResetOptions } from "../common/reset-options.js";
import { patternOf, scoreGuess } from "./feedback.js";
import { WORDS } from "./words.js";

type Obs = typeof WordleObservationSchema;

/** The wordle environment's spec. */
export const wordleSpec: EnvironmentSpec<typeof WordleActionSchema, Obs, typeof WordleStateSchema> = {
  name: "wordle",
  description: "Guess the five-letter word in six tries, with per-letter feedback; seedable secret.",
  version: "1.0.0",
  action: WordleActionSchema,
  observation: WordleObservationSchema,
  state: WordleStateSchema,
  rewardComponents: ["solved", "letters"],
};

/**
 * The default reward: 0.8 × `solved` (1 when the guess is the secret) +
 * 0.2 × `letters` (partial credit for the last guess: correct letters count
 * 1, present letters 0.5, divided by 5). Solving scores 1.
 */
export function defaultWordleRubric(): Rubric<WordleAction, WordleObservation> {
  return new WeightedSum<WordleAction, WordleObservation>(
    {
      solved: rubric((_a, o) => (o.solved ? 1 : 0)),
      letters: rubric((_a, o) => {
        const last = o.guesses.at(-1);
        if (last === undefined) return 0;
        const credit = last.letters.reduce((s, f) => s + (f === LetterFeedback.CORRECT ? 1 : f === LetterFeedback.PRESENT ? 0.5 : 0), 0);
        return credit / last.letters.length;
      }),
    },
    { solved: 0.8, letters: 0.2 },
  );
}

/** Options of {@link WordleEnvironment}. */
export interface WordleOptions {
  /** The reward rubric; default {@link defaultWordleRubric}. */
  readonly rubric?: Rubric<WordleAction, WordleObservation>;
  /** Words the secret is drawn from; default the bundled list of common words. */
  readonly words?: readonly string[];
}

const known = new Set(WORDS);

/**
 * A Wordle-like word game: guess the secret five-letter word. Each guess
 * gets per-letter feedback (correct, present, absent). Terminated when
 * solved, truncated after `max_guesses` (default 6) guesses. The seed
 * draws the secret, so the same seed and guesses replay the game.
 */
export class WordleEnvironment extends Environment<typeof WordleActionSchema, Obs, typeof WordleStateSchema> {
  static readonly spec = wordleSpec;
  private readonly rubric: Rubric<WordleAction, WordleObservation>;
  private readonly words: readonly string[];
  private readonly knownWords: ReadonlySet<string>;
  private secret = "";
  private guesses: GuessFeedback[] = [];
  private maxGuesses = 6;
  private requireKnown = false;
  private solved = false;
  private seed = 0n;

  constructor(options: WordleOptions = {}) {
    super();
    this.rubric = options.rubric ?? defaultWordleRubric();
    this.words = options.words?.map((w) => w.toLowerCase()) ?? WORDS;
    if (this.words.length === 0 || this.words.some((w) => !/^[a-z]{5}$/.test(w))) {
      throw new Error("wordle: the word list must hold five-letter words only");
    }
    this.knownWords = options.words === undefined ? known : new Set(this.words);
  }

  /** A factory serving games with these options. */
  static with(options: WordleOptions): EnvironmentFactory<typeof WordleActionSchema, Obs, typeof WordleStateSchema> {
    return { spec: wordleSpec, create: () => new WordleEnvironment(options) };
  }

  reset(options: ResetOptions): StepOutcome<Obs> {
    const opts = parseResetOptions(WordleResetOptionsSchema, options.options);
    this.seed = options.seed ?? SeededRandom.randomSeed();
    const drawn = new SeededRandom(this.seed).pick(this.words);
    this.secret = opts.secret?.toLowerCase() ?? drawn;
    this.maxGuesses = opts.maxGuesses ?? 6;
    this.requireKnown = opts.requireKnownWords ?? false;
    this.guesses = [];
    this.solved = false;
    this.rubric.reset();
    return { observation: this.observe(false), metadata: { seed: this.seed.toString(), word_list_size: this.words.length } };
  }

  step(action: WordleAction): StepOutcome<Obs> | Promise<StepOutcome<Obs>> {
    const guess = action.guess.toLowerCase();
    if (this.requireKnown && !this.knownWords.has(guess)) {
      throw new ConnectError(`guess: '${guess}' is not in the word list (no guess was used)`, Code.InvalidArgument);
    }
    const letters = scoreGuess(guess, this.secret);
    this.guesses.push(create(GuessFeedbackSchema, { guess, letters, pattern: patternOf(letters) }));
    this.solved = guess === this.secret;
    const truncated = !this.solved && this.guesses.length >= this.maxGuesses;
    const observation = this.observe(this.solved || truncated);
    const finish = (score: RubricResult): StepOutcome<Obs> => ({
      observation,
      reward: score.reward,
      rewardComponents: score.components,
      terminated: this.solved,
      truncated,
    });
    const score = evaluateRubric(this.rubric, action, observation, { done: this.solved || truncated, step: this.stepCount + 1 });
    return isPromiseLike(score) ? score.then(finish) : finish(score);
  }

  get state() {
    return {
      episodeId: this.episodeId,
      stepCount: this.stepCount,
      guesses: this.guesses,
      solved: this.solved,
      maxGuesses: this.maxGuesses,
      seed: this.seed,
      wordListSize: this.words.length,
    };
  }

  private observe(over: boolean): MessageShape<Obs> {
    const remaining = this.maxGuesses - this.guesses.length;
    const lines = this.guesses.map((g) => `${g.guess.toUpperCase()} ${g.pattern}`);
    lines.push(over ? (this.solved ? "solved" : `the word was ${this.secret.toUpperCase()}`) : `${remaining} guesses left`);
    return create(WordleObservationSchema, {
      guesses: this.guesses,
      guessesRemaining: remaining,
      solved: this.solved,
      secret: over ? this.secret : "",
      render: `${lines.join("\n")}\n`,
      seed: this.seed,
    });
  }
}
