import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { isJsonObject } from "../protocol/json-object.js";
import type { Section } from "./resolved-schema.js";

/**
 * The comment lines that tell a reader of the generated proto where each
 * type and field came from, so a mapping decision can be traced to its schema.
 */

/** A description as comment lines. */
export function descriptionLines(schema: JsonObject): string[] {
  if (typeof schema.description !== "string" || schema.description.trim() === "") return [];
  const lines = schema.description
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** `Source: action #/properties/tool_name: string; required.` */
export function sourceLine(section: Section, pointer: string, schema: JsonObject, required: boolean): string {
  const parts = [summarize(schema)];
  if (required) parts.push("required");
  else if ("default" in schema) parts.push(`default ${truncate(JSON.stringify(schema.default), 40)}`);
  return `Source: ${section} ${pointer}: ${parts.join("; ")}.`;
}

/** A short description of a schema's type, e.g. `array of integer`, `anyOf [string, null]`, `$ref ToolError`. */
export function summarize(schema: JsonValue | undefined, depth = 0): string {
  if (!isJsonObject(schema)) return schema === true ? "any" : "never";
  if (depth > 3) return "…";
  if (typeof schema.$ref === "string") return `$ref ${schema.$ref.slice(schema.$ref.lastIndexOf("/") + 1)}`;
  const union = Array.isArray(schema.anyOf) ? "anyOf" : Array.isArray(schema.oneOf) ? "oneOf" : undefined;
  if (union !== undefined) return `${union} [${(schema[union] as JsonValue[]).map((s) => summarize(s, depth + 1)).join(", ")}]`;
  if ("const" in schema) return `const ${truncate(JSON.stringify(schema.const), 40)}`;
  if (Array.isArray(schema.enum)) return `enum ${truncate(JSON.stringify(schema.enum), 60)}`;
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : typeof schema.type === "string" ? schema.type : undefined;
  if (type === "array") {
    if (Array.isArray(schema.prefixItems)) return `tuple [${schema.prefixItems.map((s) => summarize(s, depth + 1)).join(", ")}]`;
    return `array of ${summarize(schema.items ?? true, depth + 1)}`;
  }
  if (type === "object" || (type === undefined && isJsonObject(schema.properties))) {
    if (isJsonObject(schema.properties)) return "object";
    const extra = schema.additionalProperties;
    return extra === undefined || extra === true ? "object (any keys)" : `object of ${summarize(extra, depth + 1)}`;
  }
  return type ?? "any";
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}
