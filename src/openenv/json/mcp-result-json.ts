import { create, fromJson, type JsonObject, type JsonValue, type MessageInitShape, toJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  type CallToolResult,
  type CallToolResultSchema,
  type Tool,
  type ToolContent,
  ToolContentSchema,
} from "../../../gen/openenv/v1/tools_pb.js";

// MCP's JSON of tool results, content and listings, in both shapes the wire carries: FastMCP's Python dump
// (what OpenEnv sends) and the MCP specification's (what the MCP SDK sends).

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A `google.protobuf.Value` as plain JSON (null when unset). */
export function valueJson(v: CallToolResult["data"]): JsonValue {
  return v === undefined ? null : (toJson(ValueSchema, v) as JsonValue);
}

/** Plain JSON as a `google.protobuf.Value`. */
export function jsonValue(v: JsonValue): NonNullable<CallToolResult["data"]> {
  return fromJson(ValueSchema, v);
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
