import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { EnvStepResult, ResetParams } from "./env-client.js";

/** Options of a rollout. */
export interface RolloutOptions {
  /** Stop after this many steps even if the episode has not ended. */
  readonly maxSteps?: number;
  /** Parameters of each episode's reset (e.g. a seed). */
  readonly reset?: ResetParams;
  /** Run this many episodes back to back (default 1). */
  readonly episodes?: number;
}

/** One transition of a rollout. */
export interface RolloutStep<A extends DescMessage, O extends DescMessage> {
  readonly episode: number;
  readonly observation: MessageShape<O>;
  readonly action: MessageShape<A> | MessageInitShape<A>;
  readonly result: EnvStepResult<O>;
}

/** The part of a client a rollout needs. */
export interface Steppable<A extends DescMessage, O extends DescMessage> {
  reset(params?: ResetParams): Promise<EnvStepResult<O>>;
  step(action: MessageShape<A> | MessageInitShape<A>): Promise<EnvStepResult<O>>;
}

/** Chooses the next action from the last observation (and the whole last result). */
export type RolloutPolicy<A extends DescMessage, O extends DescMessage> = (
  observation: MessageShape<O>,
  last: EnvStepResult<O>,
) => MessageShape<A> | MessageInitShape<A> | PromiseLike<MessageShape<A> | MessageInitShape<A>>;

/** Drives `env` with `policy` and yields each transition (see `EnvClient.rollout`). */
export async function* rollout<A extends DescMessage, O extends DescMessage>(
  env: Steppable<A, O>,
  policy: RolloutPolicy<A, O>,
  options: RolloutOptions = {},
): AsyncGenerator<RolloutStep<A, O>, void, undefined> {
  const episodes = options.episodes ?? 1;
  const maxSteps = options.maxSteps ?? Number.POSITIVE_INFINITY;
  for (let episode = 0; episode < episodes; episode++) {
    let last = await env.reset(options.reset);
    for (let t = 0; t < maxSteps && !last.done; t++) {
      const observation = last.observation;
      const action = await policy(observation, last);
      last = await env.step(action);
      yield { episode, observation, action, result: last };
    }
  }
}
