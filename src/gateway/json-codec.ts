import { type DescMessage, fromJson, type JsonObject, type JsonValue, type Message, type Registry, toJson } from "@bufbuild/protobuf";
import { isJsonObject } from "../protocol/json-object.js";
import type { EnumModel, FieldModel, MessageModel, OneofModel, Property, Shape } from "./proto-model.js";

/**
 * Converts between an OpenEnv server's JSON (Pydantic's `model_dump()`) and
 * the messages generated for its schema, along the file model: keys by the
 * JSON names, enums by their JSON values, wrapper messages as bare lists,
 * unions by the member the value belongs to, extra keys through the
 * `additional_properties` field. Protobuf-es does the scalar work (64-bit
 * integers, bytes, well-known types) on proto JSON in between.
 */

/** A value that does not fit the schema it should follow. */
export class SchemaMismatchError extends Error {
  override readonly name = "SchemaMismatchError";
  constructor(
    /** Where, e.g. `error.error_type` or `board[2]`. */
    readonly path: string,
    detail: string,
  ) {
    super(`${path === "" ? "(root)" : path}: ${detail}`);
  }
}

/**
 * How unset fields are written: a `request` to the upstream leaves them out
 * (Pydantic applies its defaults), a `response` writes `null` for nullable
 * ones, as `model_dump()` does.
 */
export type EncodeMode = "request" | "response";

const enumMaps = new WeakMap<EnumModel, { byJson: Map<string, string>; byName: Map<string, string> }>();

function enumMap(e: EnumModel): { byJson: Map<string, string>; byName: Map<string, string> } {
  let m = enumMaps.get(e);
  if (m === undefined) {
    m = { byJson: new Map(), byName: new Map() };
    for (const v of e.values) {
      if (v.json === undefined) continue;
      m.byJson.set(v.json, v.name);
      m.byName.set(v.name, v.json);
    }
    enumMaps.set(e, m);
  }
  return m;
}

/** Upstream JSON → a message of `schema` (the runtime type of `model`). */
export function decodeUpstream(model: MessageModel, schema: DescMessage, json: unknown, registry?: Registry): Message {
  const protoJson = toProtoJson(model, json, "");
  try {
    return fromJson(schema, protoJson, { registry });
  } catch (err) {
    throw new SchemaMismatchError("", err instanceof Error ? err.message : String(err));
  }
}

/** A message → upstream JSON. */
export function encodeUpstream(
  model: MessageModel,
  schema: DescMessage,
  message: Message,
  mode: EncodeMode,
  registry?: Registry,
): JsonValue {
  const protoJson = toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true, registry });
  return fromProtoJson(model, protoJson as JsonObject, mode);
}

// ---- JSON → proto JSON ----------------------------------------------------

function toProtoJson(model: MessageModel, json: unknown, path: string): JsonObject {
  const out: JsonObject = {};
  if (model.rootValue || model.wrapper) {
    // The whole JSON value is the message's one property.
    if (json !== null && json !== undefined) setProperty(out, model.properties[0] as Property, json, path);
    return out;
  }
  if (!isJsonObject(json)) throw new SchemaMismatchError(path, `expected an object, got ${typeName(json)}`);
  const known = new Set<string>();
  for (const p of model.properties) {
    known.add(p.key);
    const value = json[p.key];
    if (value === undefined || value === null) continue;
    setProperty(out, p, value, join(path, p.key));
  }
  const extras = model.extras;
  if (extras !== undefined) {
    const extra: JsonObject = {};
    let any = false;
    for (const [k, v] of Object.entries(json)) {
      if (known.has(k)) continue;
      extra[k] = extras.shape.kind === "map" ? convert(extras.shape.value, v, join(path, k)) : v;
      any = true;
    }
    if (any) out[extras.name] = extra;
  }
  return out;
}

function setProperty(out: JsonObject, p: Property, value: unknown, path: string): void {
  if (p.kind === "field") {
    out[p.field.name] = convert(p.field.shape, value, path);
  } else {
    const member = memberOf(p.oneof, value, path);
    out[member.name] = convert(member.shape, value, path);
  }
}

function convert(shape: Shape, value: JsonValue | unknown, path: string): JsonValue {
  switch (shape.kind) {
    case "scalar":
      switch (shape.scalar) {
        case "string":
        case "bytes":
          if (typeof value !== "string") throw mismatch(path, "a string", value);
          return value;
        case "bool":
          if (typeof value !== "boolean") throw mismatch(path, "a boolean", value);
          return value;
        case "double":
          if (typeof value !== "number") throw mismatch(path, "a number", value);
          return value;
        default:
          // A decimal string is accepted too: upstreams built on protobuf (our own servers among them) send
          // 64-bit integers beyond 2^53 as strings, as proto3's JSON mapping does.
          if (typeof value === "string" && /^-?\d+$/.test(value)) return value;
          if (typeof value !== "number" || !Number.isInteger(value)) throw mismatch(path, "an integer", value);
          return value;
      }
    case "const":
      if (typeof value !== "string") throw mismatch(path, `the string ${JSON.stringify(shape.value)}`, value);
      return value;
    case "enum": {
      const name = typeof value === "string" ? enumMap(shape.enum).byJson.get(value) : undefined;
      if (name === undefined) {
        const allowed = shape.enum.values.filter((v) => v.json !== undefined).map((v) => JSON.stringify(v.json));
        throw new SchemaMismatchError(path, `expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
      }
      return name;
    }
    case "message":
      return toProtoJson(shape.message, value, path);
    case "struct":
      if (!isJsonObject(value)) throw mismatch(path, "an object", value);
      return value;
    case "value":
      return value as JsonValue;
    case "list":
      if (!Array.isArray(value)) throw mismatch(path, "a list", value);
      return value.map((item, i) => convert(shape.item, item, `${path}[${i}]`));
    case "map": {
      if (!isJsonObject(value)) throw mismatch(path, "an object", value);
      const out: JsonObject = {};
      for (const [k, v] of Object.entries(value)) out[k] = convert(shape.value, v, join(path, k));
      return out;
    }
  }
}

/** The member of a union a JSON value belongs to. */
function memberOf(oneof: OneofModel, value: unknown, path: string): FieldModel {
  const members = oneof.members;
  let found: FieldModel | undefined;
  if (typeof value === "string") found = members.find((m) => m.match?.category === "string");
  else if (typeof value === "boolean") found = members.find((m) => m.match?.category === "boolean");
  else if (typeof value === "number") {
    found =
      (Number.isInteger(value) ? members.find((m) => m.match?.category === "integer") : undefined) ??
      members.find((m) => m.match?.category === "number");
  } else if (Array.isArray(value)) found = members.find((m) => m.match?.category === "array");
  else if (isJsonObject(value)) {
    if (oneof.discriminator !== undefined) {
      const tag = value[oneof.discriminator];
      found = members.find((m) => typeof tag === "string" && m.match?.tags.includes(tag));
      if (found === undefined) {
        throw new SchemaMismatchError(
          join(path, oneof.discriminator),
          `expected one of ${members
            .flatMap((m) => m.match?.tags ?? [])
            .map((t) => JSON.stringify(t))
            .join(", ")}, got ${JSON.stringify(tag ?? null)}`,
        );
      }
    } else {
      found = members.find((m) => m.match?.category === "object");
    }
  }
  if (found === undefined) {
    const kinds = [...new Set(members.map((m) => m.match?.category))].join(", ");
    throw new SchemaMismatchError(path, `expected one of ${kinds}, got ${typeName(value)}`);
  }
  return found;
}

// ---- proto JSON → JSON ----------------------------------------------------

function fromProtoJson(model: MessageModel, json: JsonObject, mode: EncodeMode): JsonValue {
  if (model.wrapper) {
    const field = model.fields[0] as FieldModel;
    return back(field.shape, json[field.name], mode) ?? (field.shape.kind === "list" ? [] : {});
  }
  if (model.rootValue) return getProperty(json, model.properties[0] as Property, mode) ?? null;
  const out: JsonObject = {};
  for (const p of model.properties) {
    const value = getProperty(json, p, mode);
    if (value !== undefined) out[p.key] = value;
    else if (mode === "response" && (p.kind === "field" ? p.field.nullable : p.oneof.nullable)) out[p.key] = null;
  }
  const extras = model.extras;
  const extra = extras === undefined ? undefined : json[extras.name];
  if (extras !== undefined && isJsonObject(extra)) {
    for (const [k, v] of Object.entries(extra)) {
      if (k in out) continue;
      out[k] = extras.shape.kind === "map" ? (back(extras.shape.value, v, mode) ?? null) : v;
    }
  }
  return out;
}

/** A property's upstream JSON value; undefined when unset. */
function getProperty(json: JsonObject, p: Property, mode: EncodeMode): JsonValue | undefined {
  if (p.kind === "field") return p.field.shape.kind === "const" ? p.field.shape.value : back(p.field.shape, json[p.field.name], mode);
  const member = p.oneof.members.find((m) => json[m.name] !== undefined);
  return member === undefined ? undefined : back(member.shape, json[member.name], mode);
}

/** A proto JSON value back to upstream JSON; undefined means "unset". */
function back(shape: Shape, value: JsonValue | undefined, mode: EncodeMode): JsonValue | undefined {
  if (value === undefined) return undefined;
  switch (shape.kind) {
    case "scalar":
      if ((shape.scalar === "int64" || shape.scalar === "uint64") && typeof value === "string") {
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : value;
      }
      return value;
    case "const":
      return shape.value;
    case "enum":
      return typeof value === "string" ? enumMap(shape.enum).byName.get(value) : undefined;
    case "message":
      return isJsonObject(value) ? fromProtoJson(shape.message, value, mode) : undefined;
    case "struct":
    case "value":
      return value;
    case "list":
      return Array.isArray(value) ? value.map((item) => back(shape.item, item, mode) ?? null) : [];
    case "map": {
      const out: JsonObject = {};
      if (isJsonObject(value)) for (const [k, v] of Object.entries(value)) out[k] = back(shape.value, v, mode) ?? null;
      return out;
    }
  }
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function mismatch(path: string, expected: string, value: unknown): SchemaMismatchError {
  return new SchemaMismatchError(path, `expected ${expected}, got ${typeName(value)}`);
}
