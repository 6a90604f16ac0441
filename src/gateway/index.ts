export { type GatewayOptions, type GatewayServer, serveGateway } from "./gateway.js";
export {
  defaultPackage,
  type EncodeMode,
  type EnvironmentSchemas,
  type GeneratedProto,
  loadTypes,
  MessageCodec,
  protoFromSchemas,
  SchemaMismatchError,
  type SchemaTypes,
} from "./generate.js";
export type { FileModelOptions } from "./schema-model.js";
export { type UpstreamEnvironment, type UpstreamOptions, upstreamEnvironment } from "./upstream-environment.js";
