/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/mcp_echo`: OpenEnv's `echo_env`, an MCP tool environment;
 * its generated messages (`EchoArgsSchema`, `McpEchoStateSchema`, ...), tools, spec and class.
 * Like every tool environment, its actions and observations are the shared tool
 * messages (`ToolActionSchema`, `ToolObservationSchema`), re-exported here.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/mcp_echo/v1/mcp_echo_pb.js";
export {
  type ToolAction,
  ToolActionSchema,
  type ToolObservation,
  ToolObservationSchema,
  type ToolProgress,
  ToolProgressSchema,
} from "../../../gen/openenv/v1/tools_pb.js";
export { echoMessage, echoWithLength, McpEchoEnvironment, mcpEchoSpec } from "./environment.js";
