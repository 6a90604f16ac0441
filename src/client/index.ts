/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/client`: typed clients of environment servers (ours over
 * Connect, gRPC, gRPC-Web, and any OpenEnv server over HTTP/WebSocket).
 *
 * @module
 */
export { findCapacity } from "../protocol/errors.js";
export type { FieldViolation } from "../protocol/validate.js";
export type { EnvStepResult, HeaderValues, ResetParams, StepParams } from "./backend.js";
export { EnvClient, type EnvClientOptions, type EnvClientSpec, type EnvTransportKind } from "./env-client.js";
export { GenericEnvClient, type GenericEnvClientOptions, type GenericStepResult } from "./generic-client.js";
export { type RolloutOptions, type RolloutPolicy, type RolloutStep, rollout } from "./rollout.js";
export type { ReconnectEvent, RetryPolicy } from "./rpc-backend.js";
export type { ToolCallResult, ToolRef } from "./tools.js";
export type { RpcTransportKind } from "./transports.js";
export { type LostSession, VectorEnv, type VectorEnvOptions } from "./vector-env.js";
