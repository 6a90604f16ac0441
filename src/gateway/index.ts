export { type Constraints, rulesImport } from "./field-rules.js";
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
export type { FileModel, FileModelOptions } from "./schema-model.js";
export { type UpstreamEnvironment, type UpstreamOptions, upstreamEnvironment } from "./upstream-environment.js";
export { fetchUpstreamSchemas, type UpstreamDescription } from "./upstream-schemas.js";
