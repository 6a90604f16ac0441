import { create, type DescMessage, isMessage, type JsonObject, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Environment, EnvironmentSpec, StepOutcome } from "../server/environment.js";

/** A step's or reset's outcome, normalised: what every transport serialises. */
export interface StepRecord {
  readonly observation: Message;
  readonly reward: number | undefined;
  readonly done: boolean;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly metadata: JsonObject | undefined;
  readonly rewardComponents: Readonly<Record<string, number>> | undefined;
  readonly stepCount: number;
  readonly episodeId: string;
}

/** A partial observation emitted during a step. */
export interface PartialRecord {
  readonly observation: Message;
  readonly progress: number | undefined;
}

/**
 * One environment instance and its episode bookkeeping (has it been reset, is
 * the episode over, how many steps): what a session's calls read and update.
 * Only the session's own calls use it, one at a time.
 */
export class Episode {
  private started = false;
  private over = false;
  private activity = Date.now();

  constructor(
    readonly env: Environment,
    readonly spec: EnvironmentSpec,
  ) {}

  /** When the session was last used (`Date.now()`): a call started or ended, or a holder attached. */
  get lastActivity(): number {
    return this.activity;
  }

  /** The session is being used now. */
  touch(): void {
    this.activity = Date.now();
  }

  /** True once the session has had a reset, i.e. it has an episode to step. */
  get hasStarted(): boolean {
    return this.started;
  }

  /** Starts a new episode with this id (before the environment's reset runs). */
  begin(episodeId: string): void {
    this.env.episodeId = episodeId;
    this.env.stepCount = 0;
    this.started = true;
    this.over = false;
  }

  /** Throws FAILED_PRECONDITION when the session may not step now. */
  checkCanStep(sessionId: string): void {
    if (!this.started) {
      throw new ConnectError(`step before reset: session ${sessionId} has no episode yet; call Reset first`, Code.FailedPrecondition);
    }
    if (this.over && this.spec.stepAfterDone !== "allow") {
      throw new ConnectError(`episode ${this.env.episodeId} is over; reset to start a new one`, Code.FailedPrecondition);
    }
  }

  /** Normalises an outcome and updates the bookkeeping. */
  record(outcome: StepOutcome, isStep: boolean): StepRecord {
    if (outcome === null || typeof outcome !== "object" || outcome.observation === undefined) {
      throw new ConnectError("the environment returned no observation", Code.Internal);
    }
    const observation = toMessage(this.spec.observation, outcome.observation, "observation");
    const env = this.env;
    if (isStep) env.stepCount++;
    this.activity = Date.now();
    const terminated = outcome.terminated === true;
    const truncated = outcome.truncated === true;
    const done = terminated || truncated;
    this.over = done;
    return {
      observation,
      reward: outcome.reward ?? undefined,
      done,
      terminated,
      truncated,
      metadata: outcome.metadata,
      rewardComponents: outcome.rewardComponents,
      stepCount: env.stepCount,
      episodeId: env.episodeId,
    };
  }

  /** A partial observation of the environment, as a message. */
  partial(value: unknown, progress: number | undefined): PartialRecord {
    return { observation: toMessage(this.spec.partial ?? this.spec.observation, value, "partial observation"), progress };
  }

  /** The environment's state, as a message. */
  async state(): Promise<Message> {
    return toMessage(this.spec.state, await this.env.state, "state");
  }
}

/** Accepts a message of the schema or an init object; rejects a message of another type. */
export function toMessage(schema: DescMessage, value: unknown, what: string): Message {
  if (isMessage(value, schema)) return value;
  if (isMessage(value)) {
    throw new ConnectError(`the environment returned ${value.$typeName} as its ${what}, expected ${schema.typeName}`, Code.Internal);
  }
  if (value === null || typeof value !== "object") {
    throw new ConnectError(`the environment returned a ${typeof value} as its ${what}, expected ${schema.typeName}`, Code.Internal);
  }
  return create(schema, value as never);
}
