export {
  EnvClient,
  type EnvClientOptions,
  type EnvClientSpec,
  type ResetParams,
  type StepParams,
  type StepResult,
} from "./env-client.js";
export type { RpcTransportKind } from "./transports.js";
