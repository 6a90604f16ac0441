import type { DescMessage, JsonObject } from "@bufbuild/protobuf";
import { ToolActionSchema, ToolObservationSchema } from "../../../gen/openenv/v1/tools_pb.js";
import { openEnvObservationExtras } from "../../protocol/json-schema.js";

// JSON Schemas for /schema: OpenEnv's MCP environments report CallToolAction and CallToolObservation.

/** OpenEnv's `/schema` action entry of an MCP environment (its `CallToolAction`). */
export const toolActionJsonSchema: JsonObject = {
  additionalProperties: false,
  description:
    "Call a specific tool via MCP.\n\nThis action triggers MCP's tools/call operation with the\nspecified tool name and arguments.",
  properties: {
    metadata: { additionalProperties: true, description: "Additional metadata for the action", title: "Metadata", type: "object" },
    type: { const: "call_tool", default: "call_tool", description: "Action type discriminator", title: "Type", type: "string" },
    tool_name: { description: "Name of the tool to call", title: "Tool Name", type: "string" },
    arguments: { additionalProperties: true, description: "Arguments to pass to the tool", title: "Arguments", type: "object" },
  },
  required: ["tool_name"],
  title: "CallToolAction",
  type: "object",
};

/** OpenEnv's `/schema` observation entry of an MCP environment (its `CallToolObservation`). */
function toolObservationJsonSchema(): JsonObject {
  return {
    $defs: {
      ToolError: {
        additionalProperties: false,
        description:
          "Structured error for tool execution failures.\n\nThis is used for transport/framework errors, NOT for errors returned\nby the tool itself (those go in the result field).",
        properties: {
          error_type: { $ref: "#/$defs/ToolErrorType", description: "Category of the error" },
          message: { description: "Human-readable error message", title: "Message", type: "string" },
        },
        required: ["error_type", "message"],
        title: "ToolError",
        type: "object",
      },
      ToolErrorType: {
        description: "Types of errors that can occur during tool execution.",
        enum: ["execution_error", "invalid_args", "transport_error", "tool_not_found", "timeout"],
        title: "ToolErrorType",
        type: "string",
      },
    },
    additionalProperties: false,
    description:
      "Response from tool execution.\n\nContains the tool's result or an error if the call failed.\nTool-specific errors (from the tool itself) are included in the result.\nTransport/framework errors use the error field.",
    properties: {
      ...structuredClone(openEnvObservationExtras),
      tool_name: { description: "Name of the tool that was called", title: "Tool Name", type: "string" },
      result: { default: null, description: "Tool-specific result (may include tool errors)", title: "Result" },
      error: {
        anyOf: [{ $ref: "#/$defs/ToolError" }, { type: "null" }],
        default: null,
        description: "Transport/framework error if call failed",
      },
    },
    required: ["tool_name"],
    title: "CallToolObservation",
    type: "object",
  };
}

/** The `/schema` entry of a tool message, or undefined for other messages. */
export function toolJsonSchema(schema: DescMessage): JsonObject | undefined {
  if (schema.typeName === ToolActionSchema.typeName) return structuredClone(toolActionJsonSchema);
  if (schema.typeName === ToolObservationSchema.typeName) return toolObservationJsonSchema();
  return undefined;
}
