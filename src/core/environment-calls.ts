import type { DescMessage, JsonObject, Message } from "@bufbuild/protobuf";
import type { MessageOrInit, ResetOptions, StepContext, StepOutcome } from "../server/environment.js";
import type { Episode, PartialRecord, StepRecord } from "./episode.js";
import { Task } from "./serial-executor.js";

/** Where a step's partial observations go (a Step stream), keyed by the step's request id. */
export interface PartialListener {
  partial(requestId: string, partial: PartialRecord): void;
}

/** A reset as the environment sees it: `ResetOptions` plus the episode bookkeeping. */
export class ResetCall extends Task<StepOutcome, StepRecord> {
  constructor(
    private readonly episode: Episode,
    private readonly episodeId: string,
    private readonly seed: bigint | undefined,
    private readonly options: JsonObject,
  ) {
    super();
  }

  start(): StepOutcome | PromiseLike<StepOutcome> {
    this.episode.begin(this.episodeId);
    const call = this;
    // A plain object: environments may log or spread their options.
    const options: ResetOptions = {
      seed: this.seed,
      episodeId: this.episodeId,
      options: this.options,
      // The abort signal is made only if the environment looks at it: most never do.
      get signal() {
        return call.signal;
      },
    };
    return this.episode.env.reset(options);
  }

  finish(outcome: StepOutcome): StepRecord {
    return this.episode.record(outcome, false);
  }
}

/** A step: the task is the `StepContext` the environment receives, so a step allocates one object. */
export class StepCall extends Task<StepOutcome, StepRecord> implements StepContext {
  readonly #episode: Episode;
  readonly #action: Message;
  readonly #partials: PartialListener | undefined;

  constructor(
    episode: Episode,
    action: Message,
    readonly sessionId: string,
    readonly requestId: string,
    partials: PartialListener | undefined,
  ) {
    super();
    this.#episode = episode;
    this.#action = action;
    this.#partials = partials;
  }

  start(): StepOutcome | PromiseLike<StepOutcome> {
    const episode = this.#episode;
    episode.checkCanStep(this.sessionId);
    return episode.env.step(this.#action, this);
  }

  finish(outcome: StepOutcome): StepRecord {
    return this.#episode.record(outcome, true);
  }

  emit(partial: MessageOrInit<DescMessage>, progress?: number): void {
    if (this.finished || this.#partials === undefined) return;
    this.#partials.partial(this.requestId, this.#episode.partial(partial, progress));
  }
}
