import {
  create,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";
import { AnySchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  CallToolActionSchema,
  type CallToolResult,
  type CallToolResultSchema,
  type Tool,
  type ToolAction,
  ToolActionSchema,
  type ToolContent,
  ToolContentSchema,
  ToolErrorType,
  type ToolObservation,
  ToolObservationSchema,
} from "../../../gen/openenv/v1/tools_pb.js";
import { openEnvObservationExtras } from "../../protocol/json-schema.js";
import type { OpenEnvFieldError } from "../pydantic-errors.js";
import { decodeOpenEnvJson, type OpenEnvDecodeResult } from "./decode.js";

/**
 * OpenEnv's JSON form of the tool messages (`openenv.v1.ToolAction` and
 * `ToolObservation`), which is not their proto shape: OpenEnv's MCP actions are
 * `{"type": "list_tools"}` and `{"type": "call_tool", "tool_name", "arguments"}`,
 * its observations `{"tools": [...]}` and `{"tool_name", "result", "error"}`
 * with the result as FastMCP dumps it (snake_case `structured_content`,
 * `is_error`, `data`). The OpenEnv JSON codec delegates here for these two
 * types, so every OpenEnv surface (and our client over them) speaks it.
 */

/** True for the schemas whose OpenEnv JSON is the tool form. */
export function isToolMessage(schema: DescMessage): boolean {
  return schema.typeName === ToolActionSchema.typeName || schema.typeName === ToolObservationSchema.typeName;
}

/** Encodes a tool message (ToolAction or ToolObservation) in OpenEnv's JSON form. */
export function encodeToolJson(schema: DescMessage, message: MessageShape<DescMessage>, registry?: Registry): JsonObject {
  return schema.typeName === ToolActionSchema.typeName
    ? encodeToolActionJson(message as ToolAction, registry)
    : encodeToolObservationJson(message as ToolObservation);
}

/** Decodes a tool message (ToolAction or ToolObservation) from OpenEnv's JSON form. */
export function decodeToolJson(schema: DescMessage, json: unknown, registry?: Registry): OpenEnvDecodeResult<ToolAction | ToolObservation> {
  return schema.typeName === ToolActionSchema.typeName ? decodeToolActionJson(json, registry) : decodeToolObservationJson(json);
}

const TOOL_ERROR_NAMES: Record<number, string> = {
  [ToolErrorType.EXECUTION_ERROR]: "execution_error",
  [ToolErrorType.INVALID_ARGS]: "invalid_args",
  [ToolErrorType.TRANSPORT_ERROR]: "transport_error",
  [ToolErrorType.TOOL_NOT_FOUND]: "tool_not_found",
  [ToolErrorType.TIMEOUT]: "timeout",
};

/** OpenEnv's name of a tool error type, e.g. `tool_not_found`. */
export function toolErrorName(type: ToolErrorType): string {
  return TOOL_ERROR_NAMES[type] ?? "execution_error";
}

/** The tool error type of OpenEnv's name; EXECUTION_ERROR for a name it does not know. */
export function toolErrorType(name: unknown): ToolErrorType {
  for (const [k, v] of Object.entries(TOOL_ERROR_NAMES)) if (v === name) return Number(k) as ToolErrorType;
  return ToolErrorType.EXECUTION_ERROR;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A `google.protobuf.Value` as plain JSON (null when unset). */
export function valueJson(v: CallToolResult["data"]): JsonValue {
  return v === undefined ? null : (toJson(ValueSchema, v) as JsonValue);
}

/** Plain JSON as a `google.protobuf.Value`. */
export function jsonValue(v: JsonValue): NonNullable<CallToolResult["data"]> {
  return fromJson(ValueSchema, v);
}

// ---------------------------------------------------------------------------------------------
// Actions

/** Encodes a ToolAction as OpenEnv's MCP action JSON. */
export function encodeToolActionJson(action: ToolAction, registry?: Registry): JsonObject {
  if (action.kind.case === "listTools") return { type: "list_tools" };
  // An empty action is sent as one: the server answers with the missing field.
  if (action.kind.case !== "callTool") return {};
  const call = action.kind.value;
  const out: JsonObject = { type: "call_tool", tool_name: call.toolName, arguments: call.arguments ?? {} };
  if (call.typedArguments !== undefined) {
    out.typed_arguments = toJson(AnySchema, call.typedArguments, { registry }) as JsonValue;
  }
  if (call.timeoutS !== undefined) out.timeout_s = call.timeoutS;
  return out;
}

/**
 * Decodes OpenEnv's MCP action JSON as OpenEnv's `deserialize_action` does
 * for an environment whose action class is `CallToolAction`: `"list_tools"`
 * and `"call_tool"` select the action, a missing `type` means `call_tool`,
 * errors come in Pydantic's shape with locations relative to the action.
 * `typed_arguments` (an Any in proto JSON) and `timeout_s` are accepted too.
 */
export function decodeToolActionJson(json: unknown, registry?: Registry): OpenEnvDecodeResult<ToolAction> {
  if (!isObject(json)) {
    return {
      ok: false,
      errors: [
        {
          type: "model_attributes_type",
          loc: [],
          msg: "Input should be a valid dictionary or object to extract fields from",
          input: (json ?? null) as JsonValue,
        },
      ],
    };
  }
  const errors: OpenEnvFieldError[] = [];
  if (json.metadata !== undefined && !isObject(json.metadata)) {
    errors.push({ type: "dict_type", loc: ["metadata"], msg: "Input should be a valid dictionary", input: json.metadata as JsonValue });
  }
  if (json.type === "list_tools") {
    for (const key of Object.keys(json)) {
      if (key !== "type" && key !== "metadata") {
        errors.push({ type: "extra_forbidden", loc: [key], msg: "Extra inputs are not permitted", input: json[key] as JsonValue });
      }
    }
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, message: create(ToolActionSchema, { kind: { case: "listTools", value: {} } }) };
  }
  if (json.type !== undefined && json.type !== "call_tool") {
    errors.push({
      type: "literal_error",
      loc: ["type"],
      msg: "Input should be 'call_tool'",
      input: json.type as JsonValue,
      ctx: { expected: "'call_tool'" },
    });
  }
  if (!Object.hasOwn(json, "tool_name") && !Object.hasOwn(json, "toolName")) {
    errors.push({ type: "missing", loc: ["tool_name"], msg: "Field required", input: json as JsonObject });
  }
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) if (k !== "type" && k !== "metadata") rest[k] = v;
  const decoded = decodeOpenEnvJson(CallToolActionSchema, rest, { registry, rules: false });
  if (!decoded.ok) errors.push(...decoded.errors);
  if (errors.length > 0 || !decoded.ok) return { ok: false, errors };
  return { ok: true, message: create(ToolActionSchema, { kind: { case: "callTool", value: decoded.message } }) };
}

// ---------------------------------------------------------------------------------------------
// Observations

/** Encodes a ToolObservation as OpenEnv's MCP observation JSON (`{}` for a reset). */
export function encodeToolObservationJson(observation: ToolObservation): JsonObject {
  const kind = observation.kind;
  if (kind.case === "listTools") {
    return { tools: kind.value.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema ?? {} })) };
  }
  if (kind.case === "callTool") {
    const call = kind.value;
    return {
      tool_name: call.toolName,
      result: call.result === undefined || call.error !== undefined ? null : fastMcpResultJson(call.result),
      error: call.error === undefined ? null : { error_type: toolErrorName(call.error.errorType), message: call.error.message },
    };
  }
  return {};
}

/** Decodes OpenEnv's MCP observation JSON, telling the kind by its keys as OpenEnv's MCP client does. */
export function decodeToolObservationJson(json: unknown): OpenEnvDecodeResult<ToolObservation> {
  if (!isObject(json)) {
    return {
      ok: false,
      errors: [{ type: "dict_type", loc: [], msg: "Input should be a valid dictionary", input: (json ?? null) as JsonValue }],
    };
  }
  if (Array.isArray(json.tools)) {
    const tools = json.tools.filter(isObject).map((t) => ({
      name: String(t.name ?? ""),
      title: typeof t.title === "string" ? t.title : "",
      description: typeof t.description === "string" ? t.description : "",
      inputSchema: objectOr(t.input_schema ?? t.inputSchema),
      outputSchema: isObject(t.output_schema ?? t.outputSchema) ? objectOr(t.output_schema ?? t.outputSchema) : undefined,
    }));
    return { ok: true, message: create(ToolObservationSchema, { kind: { case: "listTools", value: { tools } } }) };
  }
  if (typeof json.tool_name === "string") {
    const error = isObject(json.error)
      ? { errorType: toolErrorType(json.error.error_type), message: String(json.error.message ?? "") }
      : undefined;
    const result = isObject(json.result) ? parseResultJson(json.result) : undefined;
    return {
      ok: true,
      message: create(ToolObservationSchema, { kind: { case: "callTool", value: { toolName: json.tool_name, result, error } } }),
    };
  }
  return { ok: true, message: create(ToolObservationSchema, {}) };
}

function objectOr(v: unknown): JsonObject {
  return isObject(v) ? (v as JsonObject) : {};
}

/** A result as FastMCP's `CallToolResult` dumps it (what OpenEnv puts on its wire). */
export function fastMcpResultJson(result: CallToolResult): JsonObject {
  return {
    content: result.content.map(fastMcpContentJson),
    structured_content: result.structuredContent ?? null,
    meta: null,
    data: valueJson(result.data),
    is_error: result.isError,
  };
}

/** One content block with the field names and nulls of the MCP SDK's Python models. */
function fastMcpContentJson(c: ToolContent): JsonObject {
  const extra = { annotations: null, meta: null };
  switch (c.type) {
    case "image":
    case "audio":
      return { type: c.type, data: base64(c.data), mimeType: c.mimeType, ...extra };
    case "resource_link":
      return {
        name: c.name,
        title: null,
        uri: c.uri,
        description: null,
        mimeType: c.mimeType || null,
        size: null,
        icons: null,
        ...extra,
        type: c.type,
      };
    case "resource":
      return { type: c.type, resource: embeddedResource(c, null), ...extra };
    default:
      return { type: "text", text: c.text, ...extra };
  }
}

function embeddedResource(c: ToolContent, meta: null | undefined): JsonObject {
  const base: JsonObject = { uri: c.uri, mimeType: c.mimeType || null };
  if (meta === null) base.meta = null;
  if (c.data.length > 0 && c.text === "") base.blob = base64(c.data);
  else base.text = c.text;
  return base;
}

/** One content block in the MCP specification's shape (what the MCP SDK sends). */
export function mcpContentJson(c: ToolContent): JsonObject {
  switch (c.type) {
    case "image":
    case "audio":
      return { type: c.type, data: base64(c.data), mimeType: c.mimeType };
    case "resource_link": {
      const out: JsonObject = { type: c.type, uri: c.uri, name: c.name };
      if (c.mimeType !== "") out.mimeType = c.mimeType;
      return out;
    }
    case "resource": {
      const resource = embeddedResource(c, undefined);
      if (resource.mimeType === null) delete resource.mimeType;
      return { type: c.type, resource };
    }
    default:
      return { type: "text", text: c.text };
  }
}

/** Parses a content block of either shape (FastMCP's dump or the MCP specification's). */
export function parseContentJson(c: Record<string, unknown>): MessageInitShape<typeof ToolContentSchema> {
  const type = typeof c.type === "string" ? c.type : "text";
  const mimeType = typeof c.mimeType === "string" ? c.mimeType : typeof c.mime_type === "string" ? c.mime_type : "";
  if (type === "image" || type === "audio") return { type, data: fromBase64(c.data), mimeType };
  if (type === "resource_link") return { type, uri: String(c.uri ?? ""), name: String(c.name ?? ""), mimeType };
  if (type === "resource" && isObject(c.resource)) {
    const r = c.resource;
    return {
      type,
      uri: String(r.uri ?? ""),
      mimeType: typeof r.mimeType === "string" ? r.mimeType : "",
      text: typeof r.text === "string" ? r.text : "",
      data: fromBase64(r.blob),
    };
  }
  return { type: "text", text: typeof c.text === "string" ? c.text : "" };
}

/** Parses a result of either shape: FastMCP's (`structured_content`, `is_error`, `data`) or MCP's (`structuredContent`, `isError`). */
export function parseResultJson(r: Record<string, unknown>): MessageInitShape<typeof CallToolResultSchema> {
  const structured = r.structured_content ?? r.structuredContent;
  const data = Object.hasOwn(r, "data") ? (r.data as JsonValue) : undefined;
  return {
    content: Array.isArray(r.content) ? r.content.filter(isObject).map((c) => create(ToolContentSchema, parseContentJson(c))) : [],
    structuredContent: isObject(structured) ? (structured as JsonObject) : undefined,
    data: data === undefined || data === null ? undefined : jsonValue(data),
    isError: r.is_error === true || r.isError === true,
  };
}

/** The MCP specification's tool listing entry, with the nulls of the MCP SDK's Python `Tool.model_dump()`. */
export function mcpToolJson(tool: Tool, withNulls: boolean): JsonObject {
  const out: JsonObject = { name: tool.name };
  if (withNulls || tool.title !== "") out.title = tool.title === "" ? null : tool.title;
  out.description = tool.description;
  out.inputSchema = tool.inputSchema ?? { type: "object" };
  if (withNulls || tool.outputSchema !== undefined) out.outputSchema = tool.outputSchema ?? null;
  if (withNulls) Object.assign(out, { icons: null, annotations: null, meta: null, execution: null });
  return out;
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64");
}

function fromBase64(v: unknown): Uint8Array {
  return typeof v === "string" ? new Uint8Array(Buffer.from(v, "base64")) : new Uint8Array();
}

// ---------------------------------------------------------------------------------------------
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
