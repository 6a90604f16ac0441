import type { JsonObject } from "@bufbuild/protobuf";
import { EchoArgsSchema, EchoWithLengthResultSchema, McpEchoStateSchema } from "../../../gen/openenv/envs/mcp_echo/v1/mcp_echo_pb.js";
import type { ResetOptions, StepOutcome } from "../../server/environment.js";
import { defineTool } from "../../server/tools/define.js";
import { McpEnvironment, toolEnvironmentSpec } from "../../server/tools/tool-environment.js";

// The tools' JSON Schemas and descriptions are FastMCP's for OpenEnv's echo_env, so clients see what they see there.
const MESSAGE_SCHEMA: JsonObject = {
  additionalProperties: false,
  properties: { message: { type: "string" } },
  required: ["message"],
  type: "object",
};

/** OpenEnv's echo_env tool `echo_message`: returns the message. */
export const echoMessage = defineTool({
  name: "echo_message",
  description:
    "Echo back the provided message.\n\nArgs:\n    message: The message to echo back\n\nReturns:\n    The same message that was provided",
  input: EchoArgsSchema,
  inputSchema: MESSAGE_SCHEMA,
  outputSchema: {
    description: "Generic wrapper for non-object return types.",
    properties: { result: { type: "string" } },
    required: ["result"],
    type: "object",
    "x-fastmcp-wrap-result": true,
  },
  run: (_env: McpEchoEnvironment, args) => args.message ?? "",
});

/** OpenEnv's echo_env tool `echo_with_length`: returns the message and its length. */
export const echoWithLength = defineTool({
  name: "echo_with_length",
  description:
    "Echo back the message with its length.\n\nArgs:\n    message: The message to echo back\n\nReturns:\n    Dictionary with the message and its length",
  input: EchoArgsSchema,
  inputSchema: MESSAGE_SCHEMA,
  output: EchoWithLengthResultSchema,
  outputSchema: { additionalProperties: true, type: "object" },
  run: (_env: McpEchoEnvironment, args) => {
    const message = args.message ?? "";
    // Python's len(): code points, not UTF-16 units.
    return { message, length: [...message].length };
  },
});

/** The mcp-echo environment's spec. */
export const mcpEchoSpec = toolEnvironmentSpec({
  name: "mcp_echo",
  description: "OpenEnv's echo_env: a pure MCP environment whose tools echo messages back.",
  version: "1.0.0",
  state: McpEchoStateSchema,
  tools: [echoMessage, echoWithLength],
});

/**
 * OpenEnv's canonical MCP environment, `echo_env`: tools `echo_message` and
 * `echo_with_length`, the same observations, rewards (0.0 on reset, none on
 * tool calls) and metadata. Every tool call and listing counts as a step.
 */
export class McpEchoEnvironment extends McpEnvironment<typeof McpEchoStateSchema> {
  static readonly spec = mcpEchoSpec;

  override reset(_options: ResetOptions): StepOutcome<typeof mcpEchoSpec.observation> {
    return { observation: {}, reward: 0, metadata: { status: "ready", message: "Echo environment ready!" } };
  }

  get state() {
    return { episodeId: this.episodeId, stepCount: this.stepCount };
  }
}
