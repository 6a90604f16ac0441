import {
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  type Registry,
  toJson,
} from "@bufbuild/protobuf";
import { isJsonObject } from "../../protocol/json-object.js";
import { setOwn } from "../../protocol/own-keys.js";
import { encodeToolJson, isToolMessage } from "./tools.js";
import { is64 } from "./values.js";

/**
 * Encodes a message in OpenEnv's JSON form: Pydantic `model_dump()` output, with
 * snake_case field names, every field present (unset ones as `null`), 64-bit
 * integers as numbers while they are exact, enums by name, well-known types in
 * their proto JSON form.
 */
export function encodeOpenEnvJson(
  schema: DescMessage,
  message: MessageShape<DescMessage>,
  registry?: Registry,
  /** Top-level fields to leave out (OpenEnv lifts an observation's reward, done and metadata out of it). */
  omit?: ReadonlySet<string>,
): JsonObject {
  if (isToolMessage(schema)) return encodeToolJson(schema, message, registry);
  const json = toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true, registry }) as JsonObject;
  return reshape(schema, json, omit);
}

/** toJson output → OpenEnv's shape: every field present, `null` for unset, safe 64-bit integers as numbers. */
function reshape(schema: DescMessage, json: JsonObject, omit?: ReadonlySet<string>): JsonObject {
  const out: JsonObject = {};
  for (const field of schema.fields) {
    if (omit?.has(field.name) === true) continue;
    const v = json[field.name];
    out[field.name] = v === undefined ? null : reshapeField(field, v);
  }
  return out;
}

function reshapeField(field: DescField, v: JsonValue): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return is64(field.scalar) ? safeNumber(v) : v;
    case "enum":
      return v;
    case "message":
      return reshapeMessage(field.message, v);
    case "list":
      if (!Array.isArray(v)) return v;
      if (field.listKind === "scalar") return is64(field.scalar) ? v.map(safeNumber) : v;
      if (field.listKind === "message") return v.map((item) => reshapeMessage(field.message, item));
      return v;
    case "map": {
      if (!isJsonObject(v)) return v;
      const out: JsonObject = {};
      for (const [k, item] of Object.entries(v as JsonObject)) {
        setOwn(
          out,
          k,
          field.mapKind === "scalar"
            ? is64(field.scalar)
              ? safeNumber(item)
              : item
            : field.mapKind === "message"
              ? reshapeMessage(field.message, item)
              : item,
        );
      }
      return out;
    }
  }
}

function reshapeMessage(desc: DescMessage, v: JsonValue): JsonValue {
  if (desc.typeName === "google.protobuf.Int64Value" || desc.typeName === "google.protobuf.UInt64Value") return safeNumber(v);
  if (desc.typeName.startsWith("google.protobuf.") || !isJsonObject(v)) return v;
  return reshape(desc, v as JsonObject);
}

function safeNumber(v: JsonValue): JsonValue {
  if (typeof v !== "string") return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}
