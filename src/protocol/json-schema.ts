import { type DescField, type DescMessage, type JsonObject, type JsonValue, ScalarType } from "@bufbuild/protobuf";
import { toolJsonSchema } from "../openenv/json/tools.js";
import { fieldRules } from "./validate.js";

/** How a schema is shaped for OpenEnv's `/schema`. */
export interface JsonSchemaOptions {
  /** `additionalProperties` of the top-level object (OpenEnv: false for actions and observations, true for state). */
  readonly additionalProperties?: boolean;
  /** Extra top-level properties, e.g. OpenEnv's `done`/`reward`/`metadata` on observations. */
  readonly extraProperties?: JsonObject;
}

const wellKnown: Record<string, JsonObject> = {
  "google.protobuf.Struct": { type: "object", additionalProperties: true },
  "google.protobuf.Value": {},
  "google.protobuf.ListValue": { type: "array", items: {} },
  "google.protobuf.Timestamp": { type: "string", format: "date-time" },
  "google.protobuf.Duration": { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?s$" },
  "google.protobuf.Any": { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"] },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.FieldMask": { type: "string" },
  "google.protobuf.DoubleValue": { type: ["number", "null"] },
  "google.protobuf.FloatValue": { type: ["number", "null"] },
  "google.protobuf.Int64Value": { type: ["integer", "null"] },
  "google.protobuf.UInt64Value": { type: ["integer", "null"], minimum: 0 },
  "google.protobuf.Int32Value": { type: ["integer", "null"] },
  "google.protobuf.UInt32Value": { type: ["integer", "null"], minimum: 0 },
  "google.protobuf.BoolValue": { type: ["boolean", "null"] },
  "google.protobuf.StringValue": { type: ["string", "null"] },
  "google.protobuf.BytesValue": { type: ["string", "null"], contentEncoding: "base64" },
};

function scalarSchema(type: ScalarType): JsonObject {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string", default: "" };
    case ScalarType.BOOL:
      return { type: "boolean", default: false };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64", default: "" };
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return { type: "number", default: 0 };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", minimum: 0, maximum: 4294967295, default: 0 };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "integer", minimum: 0, default: 0 };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", minimum: -2147483648, maximum: 2147483647, default: 0 };
    default:
      return { type: "integer", default: 0 };
  }
}

/** JSON Schema (draft 2020-12) of a message in its OpenEnv JSON form (proto field names). */
export function messageJsonSchema(schema: DescMessage, options: JsonSchemaOptions = {}): JsonObject {
  const tool = toolJsonSchema(schema);
  if (tool !== undefined) return tool;
  const defs: Record<string, JsonObject> = {};
  const root = objectSchema(schema, defs, options);
  if (Object.keys(defs).length > 0) root.$defs = defs;
  return root;
}

function objectSchema(schema: DescMessage, defs: Record<string, JsonObject>, options: JsonSchemaOptions = {}): JsonObject {
  const properties: JsonObject = {};
  const required: string[] = [];
  for (const field of schema.fields) {
    const prop = fieldSchema(field, defs);
    const rules = fieldRules(field);
    if (rules !== undefined) {
      const target = field.fieldKind === "list" ? (prop.items as JsonObject) : prop;
      const isString = target.type === "string";
      if (rules.required) required.push(field.name);
      if (rules.minLen !== undefined)
        prop[field.fieldKind === "list" ? "minItems" : isString ? "minLength" : "minProperties"] = rules.minLen;
      if (rules.maxLen !== undefined)
        prop[field.fieldKind === "list" ? "maxItems" : isString ? "maxLength" : "maxProperties"] = rules.maxLen;
      if (rules.gte !== undefined) target.minimum = rules.gte;
      if (rules.lte !== undefined) target.maximum = rules.lte;
      if (rules.pattern !== undefined) target.pattern = rules.pattern;
      if (rules.allowed.length > 0) target.enum = [...rules.allowed];
    }
    prop.title = titleCase(field.name);
    properties[field.name] = prop;
  }
  Object.assign(properties, options.extraProperties ?? {});
  const out: JsonObject = {
    title: schema.name,
    type: "object",
    properties,
    additionalProperties: options.additionalProperties ?? false,
  };
  if (required.length > 0) out.required = required;
  return out;
}

function fieldSchema(field: DescField, defs: Record<string, JsonObject>): JsonObject {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSchema(field.scalar);
    case "enum":
      return enumSchema(field.enum.values.map((v) => v.name));
    case "message":
      return messageRef(field.message, defs);
    case "list": {
      const items =
        field.listKind === "scalar"
          ? scalarSchema(field.scalar)
          : field.listKind === "enum"
            ? enumSchema(field.enum.values.map((v) => v.name))
            : messageRef(field.message, defs);
      delete items.default;
      return { type: "array", items, default: [] };
    }
    case "map": {
      const values =
        field.mapKind === "scalar"
          ? scalarSchema(field.scalar)
          : field.mapKind === "enum"
            ? enumSchema(field.enum.values.map((v) => v.name))
            : messageRef(field.message, defs);
      delete values.default;
      return { type: "object", additionalProperties: values, default: {} };
    }
  }
}

function enumSchema(names: string[]): JsonObject {
  return { type: "string", enum: names, default: names[0] ?? "" };
}

function messageRef(message: DescMessage, defs: Record<string, JsonObject>): JsonObject {
  const wkt = wellKnown[message.typeName];
  if (wkt !== undefined) return structuredClone(wkt) as JsonObject;
  if (!(message.name in defs)) {
    defs[message.name] = {}; // placeholder first: recursive types refer to themselves
    defs[message.name] = objectSchema(message, defs);
  }
  return { $ref: `#/$defs/${message.name}` };
}

function titleCase(name: string): string {
  return name
    .split("_")
    .filter((p) => p.length > 0)
    .map((p) => p[0]?.toUpperCase() + p.slice(1))
    .join(" ");
}

/** OpenEnv's observation schema lists these next to the env's own fields. */
export const openEnvObservationExtras: JsonObject = {
  done: { default: false, description: "Whether the episode has terminated", title: "Done", type: "boolean" },
  reward: {
    anyOf: [{ type: "boolean" }, { type: "integer" }, { type: "number" }, { type: "null" }],
    default: null,
    description: "Reward signal from the last action",
    title: "Reward",
  },
  metadata: { additionalProperties: true, description: "Additional metadata for the observation", title: "Metadata", type: "object" },
};

/** JSON value type guard used by the JSON mappers. */
export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
