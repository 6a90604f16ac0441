import { create, type DescMessage, isMessage, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import {
  type CallToolResult,
  CallToolResultSchema,
  type ToolContent,
  ToolContentSchema,
  ToolErrorType,
} from "../../../gen/openenv/v1/tools_pb.js";
import { toMessage } from "../../core/episode.js";
import { encodeOpenEnvJson } from "../../openenv/json/encode.js";
import { jsonValue } from "../../openenv/json/tools.js";
import { type ToolDefinition, ToolError } from "./define.js";

/** A text content block. */
export function textContent(text: string): ToolContent {
  return create(ToolContentSchema, { type: "text", text });
}

/** An image content block (`mimeType` e.g. `image/png`). */
export function imageContent(data: Uint8Array, mimeType: string): ToolContent {
  return create(ToolContentSchema, { type: "image", data, mimeType });
}

/**
 * A tool result with explicit content blocks, for tools that return more than
 * a value: several blocks, images, or a result flagged as an error the tool
 * reports itself (`isError`; the model sees it and may correct itself).
 *
 * @example
 * ```ts
 * return toolResult({ content: [textContent("no such file")], isError: true });
 * ```
 */
export function toolResult(init: {
  readonly content?: readonly (ToolContent | MessageInitShape<typeof ToolContentSchema>)[];
  readonly structuredContent?: JsonObject;
  readonly isError?: boolean;
}): CallToolResult {
  return create(CallToolResultSchema, {
    content: (init.content ?? []).map((c) => create(ToolContentSchema, c as MessageInitShape<typeof ToolContentSchema>)),
    structuredContent: init.structuredContent,
    data: init.structuredContent === undefined ? undefined : jsonValue(init.structuredContent),
    isError: init.isError ?? false,
  });
}

/**
 * Turns what a handler returned into a CallToolResult, the way FastMCP does:
 * a string is one text block (structured as `{"result": s}`), an object its
 * JSON (structured as itself), other JSON values their JSON (wrapped), a
 * message of the tool's output type its OpenEnv JSON plus the typed result.
 */
export function toCallToolResult(tool: ToolDefinition, value: unknown): CallToolResult {
  if (isMessage(value, CallToolResultSchema)) return value;
  const output = tool.output;
  if (output !== undefined && (isMessage(value, output) || (isPlainObject(value) && !isMessage(value)))) {
    return typedResult(output, toMessage(output, value, `result of tool '${tool.name}'`));
  }
  if (isMessage(value)) {
    throw new ToolError(
      ToolErrorType.EXECUTION_ERROR,
      `tool '${tool.name}' returned a ${value.$typeName} message but declares no output type`,
    );
  }
  if (value === undefined || value === null) {
    return create(CallToolResultSchema, { content: [], structuredContent: { result: null }, data: jsonValue(null) });
  }
  const json = toJsonValue(value, tool.name);
  if (typeof json === "string") {
    return create(CallToolResultSchema, { content: [textContent(json)], structuredContent: { result: json }, data: jsonValue(json) });
  }
  const structured: JsonObject = isPlainObject(json) ? (json as JsonObject) : { result: json };
  return create(CallToolResultSchema, {
    content: [textContent(JSON.stringify(json))],
    structuredContent: structured,
    data: jsonValue(json),
  });
}

function typedResult(output: DescMessage, message: ReturnType<typeof toMessage>): CallToolResult {
  const json = encodeOpenEnvJson(output, message);
  return create(CallToolResultSchema, {
    content: [textContent(JSON.stringify(json))],
    structuredContent: json,
    data: jsonValue(json),
    typedResult: anyPack(output, message),
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A handler's value as JSON; a value JSON cannot hold (a function, a cycle, a bigint) is the tool's error. */
function toJsonValue(value: unknown, name: string): JsonValue {
  let text: string | undefined;
  try {
    text = JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  } catch (err) {
    throw new ToolError(ToolErrorType.EXECUTION_ERROR, `tool '${name}' returned a value that is not JSON: ${String(err)}`);
  }
  if (text === undefined) throw new ToolError(ToolErrorType.EXECUTION_ERROR, `tool '${name}' returned a ${typeof value}, not JSON`);
  return JSON.parse(text) as JsonValue;
}
