export {
  EnvClient,
  type EnvClientOptions,
  type EnvClientSpec,
  type ResetParams,
  type StepParams,
  type StepResult,
} from "./env-client.js";
export { type RolloutOptions, type RolloutStep, rollout } from "./rollout.js";
export type { RpcTransportKind } from "./transports.js";
export { VectorEnv, type VectorEnvOptions } from "./vector-env.js";
