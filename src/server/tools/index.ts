export {
  type CallToolResult,
  DEFAULT_TOOL_TIMEOUT_S,
  defineTool,
  type JsonToolInit,
  type ProtoToolInit,
  RESERVED_TOOL_NAMES,
  type ServerMode,
  type ToolContext,
  type ToolDefinition,
  ToolError,
  type ToolErrorKind,
  type ToolReturn,
} from "./define.js";
export { imageContent, textContent, toolResult } from "./result.js";
export {
  describeTools,
  inMode,
  McpEnvironment,
  type ToolEnvironmentSpec,
  type ToolEnvironmentSpecInit,
  toolEnvironmentSpec,
  toolsOf,
} from "./tool-environment.js";
