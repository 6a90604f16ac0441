export type { EnvBackend, EnvStepResult, ResetParams, StepParams } from "./backend.js";
export {
  EnvClient,
  type EnvClientOptions,
  type EnvClientSpec,
  type EnvTransportKind,
} from "./env-client.js";
export { GenericEnvClient, type GenericEnvClientOptions, type GenericStepResult } from "./generic-client.js";
export { type RolloutOptions, type RolloutPolicy, type RolloutStep, rollout } from "./rollout.js";
export type { ReconnectEvent, RetryPolicy } from "./rpc-backend.js";
export type { RpcTransportKind } from "./transports.js";
export { type LostSession, VectorEnv, type VectorEnvOptions } from "./vector-env.js";
