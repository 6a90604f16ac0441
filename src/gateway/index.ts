/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/gateway`: any OpenEnv HTTP/WebSocket environment, typed:
 * proto packages from its `/schema` (`protoFromSchemas`), and our whole
 * contract served in front of it (`serveGateway`).
 *
 * @module
 */
export { type GatewayOptions, type GatewayServer, serveGateway } from "./gateway.js";
export {
  type EncodeMode,
  type EnvironmentSchemas,
  type GeneratedProto,
  protoFromSchemas,
  SchemaMismatchError,
  type SchemaTypes,
} from "./generate.js";
export type { FileModelOptions } from "./model-builder.js";
export { type UpstreamEnvironment, type UpstreamOptions, upstreamEnvironment } from "./upstream-environment.js";
