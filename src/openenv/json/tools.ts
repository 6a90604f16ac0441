import { create, type DescMessage, type JsonObject, type JsonValue, type MessageShape, type Registry, toJson } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import {
  CallToolActionSchema,
  type ToolAction,
  ToolActionSchema,
  ToolErrorType,
  type ToolObservation,
  ToolObservationSchema,
} from "../../../gen/openenv/v1/tools_pb.js";
import { literalError, missingField, type OpenEnvFieldError } from "../pydantic-errors.js";
import { decodeOpenEnvJson, type OpenEnvDecodeResult } from "./decode.js";
import { fastMcpResultJson, parseResultJson } from "./mcp-result-json.js";

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
    errors.push(literalError(["type"], ["call_tool"], json.type));
  }
  if (!Object.hasOwn(json, "tool_name") && !Object.hasOwn(json, "toolName")) {
    errors.push(missingField(["tool_name"], json));
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
