import { type EchoAction, EchoActionSchema, EchoObservationSchema, EchoStateSchema } from "../../../gen/openenv/envs/echo/v1/echo_pb.js";
import { Environment, type EnvironmentSpec, type StepOutcome } from "../../server/environment.js";

/** The echo environment's spec: shared by its server and its typed clients. */
export const echoSpec: EnvironmentSpec<typeof EchoActionSchema, typeof EchoObservationSchema, typeof EchoStateSchema> = {
  name: "echo",
  description: "Echoes each message back; reward is 0.1 per character (OpenEnv's template environment).",
  version: "1.0.0",
  action: EchoActionSchema,
  observation: EchoObservationSchema,
  state: EchoStateSchema,
};

/**
 * Echoes messages back, as OpenEnv's `openenv init` template does: the
 * observation is the message and its length, the reward 0.1 × length.
 * Episodes never end by themselves.
 */
export class EchoEnvironment extends Environment<typeof EchoActionSchema, typeof EchoObservationSchema, typeof EchoStateSchema> {
  static readonly spec = echoSpec;
  private totalCharacters = 0n;

  reset(): StepOutcome<typeof EchoObservationSchema> {
    this.totalCharacters = 0n;
    return { observation: { echoedMessage: "Echo environment ready!", messageLength: 0 }, reward: 0 };
  }

  step(action: EchoAction): StepOutcome<typeof EchoObservationSchema> {
    const length = [...action.message].length;
    this.totalCharacters += BigInt(length);
    return {
      observation: { echoedMessage: action.message, messageLength: length },
      reward: length * 0.1,
      metadata: { original_message: action.message, step: this.stepCount + 1 },
    };
  }

  get state() {
    return { episodeId: this.episodeId, stepCount: this.stepCount, totalCharacters: this.totalCharacters };
  }
}
