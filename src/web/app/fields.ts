import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { fieldRules } from "../../protocol/validate.js";

/** The constraints of a field, from its `(buf.validate.field)` rules (or the older `(openenv.v1.rules)`) or a JSON Schema. */
export interface FieldConstraints {
  readonly required?: boolean;
  readonly minLen?: number;
  readonly maxLen?: number;
  readonly gte?: number;
  readonly lte?: number;
  readonly pattern?: string;
  readonly allowed?: readonly string[];
}

/** What kind of input a field gets. */
export type FieldKind = "string" | "bytes" | "integer" | "number" | "boolean" | "enum" | "message" | "json";

/**
 * One field of a form, described independently of where the description came
 * from: protobuf descriptors (Describe) or a JSON Schema (OpenEnv's `/schema`).
 * Values are JSON with proto field names, as OpenEnv's JSON and proto JSON
 * (`useProtoFieldName`) both write them.
 */
export interface FieldSpec {
  /** The JSON key (proto field name). */
  readonly name: string;
  /** A human label, e.g. "Timeout S". */
  readonly label: string;
  readonly kind: FieldKind;
  /** A list of values of this kind. */
  readonly repeated: boolean;
  /** The field has explicit presence: leaving it empty means "unset". */
  readonly optional: boolean;
  /** Enum value names, for `enum`. */
  readonly enumValues?: readonly string[];
  /** Fields of a nested message, for `message`. */
  readonly fields?: readonly FieldSpec[];
  /** A 64-bit integer: JSON may carry it as a string. */
  readonly int64?: boolean;
  /** Unsigned integer. */
  readonly unsigned?: boolean;
  readonly constraints: FieldConstraints;
  /** The message or JSON type name, for display. */
  readonly typeName?: string;
}

/** "timeout_s" -> "Timeout s". */
export function labelOf(name: string): string {
  const words = name.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const integerTypes = new Set([
  ScalarType.INT32,
  ScalarType.SINT32,
  ScalarType.SFIXED32,
  ScalarType.UINT32,
  ScalarType.FIXED32,
  ScalarType.INT64,
  ScalarType.SINT64,
  ScalarType.SFIXED64,
  ScalarType.UINT64,
  ScalarType.FIXED64,
]);
const int64Types = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64, ScalarType.UINT64, ScalarType.FIXED64]);
const unsignedTypes = new Set([ScalarType.UINT32, ScalarType.FIXED32, ScalarType.UINT64, ScalarType.FIXED64]);

function rulesOf(field: DescField): FieldConstraints {
  let r: ReturnType<typeof fieldRules>;
  try {
    r = fieldRules(field);
  } catch {
    return {}; // a rule the server's validator does not know either: the server answers for it
  }
  if (r === undefined) return {};
  return {
    required: r.required || undefined,
    minLen: r.minLen,
    maxLen: r.maxLen,
    gte: r.gte,
    lte: r.lte,
    pattern: r.pattern,
    allowed: r.allowed.length > 0 ? [...r.allowed] : undefined,
  };
}

function scalarKind(t: ScalarType): FieldKind {
  if (t === ScalarType.STRING) return "string";
  if (t === ScalarType.BYTES) return "bytes";
  if (t === ScalarType.BOOL) return "boolean";
  return integerTypes.has(t) ? "integer" : "number";
}

/** Form fields of a protobuf message, with its field rules as constraints. */
export function fieldsFromMessage(desc: DescMessage, depth = 0): FieldSpec[] {
  return desc.fields.map((f) => fieldFromDesc(f, depth));
}

function fieldFromDesc(f: DescField, depth: number): FieldSpec {
  const base = {
    name: f.name,
    label: labelOf(f.name),
    optional: f.presence === 1, // EXPLICIT
    constraints: rulesOf(f),
  };
  const kind = f.fieldKind === "list" ? f.listKind : f.fieldKind;
  const repeated = f.fieldKind === "list";
  if (f.fieldKind === "map") return { ...base, kind: "json", repeated: false, typeName: "map" };
  if (kind === "enum" && f.enum !== undefined) {
    return { ...base, kind: "enum", repeated, enumValues: f.enum.values.map((v) => v.name), typeName: f.enum.typeName };
  }
  if (kind === "message" && f.message !== undefined) {
    // Well-known types (Struct, Timestamp, ...) and deep recursion are edited as JSON.
    if (f.message.typeName.startsWith("google.protobuf.") || depth >= 4) {
      return { ...base, kind: "json", repeated, typeName: f.message.typeName };
    }
    return { ...base, kind: "message", repeated, fields: fieldsFromMessage(f.message, depth + 1), typeName: f.message.typeName };
  }
  const scalar = f.scalar ?? ScalarType.STRING;
  return {
    ...base,
    kind: scalarKind(scalar),
    repeated,
    int64: int64Types.has(scalar) || undefined,
    unsigned: unsignedTypes.has(scalar) || undefined,
  };
}

type Schema = { readonly [key: string]: unknown };

function isSchema(v: unknown): v is Schema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Resolves `$ref: "#/$defs/X"` (and `definitions`), and `anyOf: [X, {type: null}]` as Pydantic writes optionals. */
function resolve(schema: Schema, root: Schema): { schema: Schema; nullable: boolean } {
  let s = schema;
  let nullable = false;
  for (let i = 0; i < 8; i++) {
    const ref = s.$ref;
    if (typeof ref === "string") {
      const path = ref.replace(/^#\//, "").split("/");
      let target: unknown = root;
      for (const p of path) target = isSchema(target) ? target[p] : undefined;
      if (!isSchema(target)) break;
      s = { ...target, ...Object.fromEntries(Object.entries(s).filter(([k]) => k !== "$ref")) };
      continue;
    }
    const any = Array.isArray(s.anyOf) ? s.anyOf : Array.isArray(s.oneOf) ? s.oneOf : undefined;
    if (any !== undefined) {
      const rest = any.filter((x) => !(isSchema(x) && x.type === "null"));
      nullable ||= rest.length < any.length;
      if (rest.length === 1 && isSchema(rest[0])) {
        const { anyOf: _a, oneOf: _o, ...outer } = s;
        s = { ...(rest[0] as Schema), ...outer };
        continue;
      }
    }
    break;
  }
  return { schema: s, nullable };
}

function num(v: unknown): number | undefined {
  return typeof v === "number" ? v : undefined;
}

/** Form fields of an object JSON Schema (OpenEnv's `/schema`, Pydantic's or ours). */
export function fieldsFromJsonSchema(schema: Schema, root: Schema = schema, depth = 0): FieldSpec[] {
  const resolved = resolve(schema, root).schema;
  const props = isSchema(resolved.properties) ? resolved.properties : {};
  const required = new Set(Array.isArray(resolved.required) ? resolved.required.filter((x) => typeof x === "string") : []);
  return Object.entries(props).map(([name, raw]) => fieldFromSchema(name, isSchema(raw) ? raw : {}, root, required.has(name), depth));
}

function fieldFromSchema(name: string, raw: Schema, root: Schema, isRequired: boolean, depth: number): FieldSpec {
  const { schema: s, nullable } = resolve(raw, root);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== "null") : s.type;
  const label = labelOf(name);
  if (type === "array") {
    const item = fieldFromSchema(name, isSchema(s.items) ? s.items : {}, root, false, depth);
    return {
      ...item,
      label,
      repeated: true,
      optional: nullable,
      constraints: { ...item.constraints, minLen: num(s.minItems), maxLen: num(s.maxItems), required: isRequired || undefined },
    };
  }
  const constraints: FieldConstraints = {
    required: isRequired || undefined,
    minLen: num(s.minLength),
    maxLen: num(s.maxLength),
    gte: num(s.minimum),
    lte: num(s.maximum),
    pattern: typeof s.pattern === "string" ? s.pattern : undefined,
  };
  const base = {
    name,
    label,
    repeated: false,
    optional: nullable,
    constraints,
    typeName: typeof s.title === "string" ? s.title : undefined,
  };
  if (Array.isArray(s.enum)) {
    const values = s.enum.filter((v): v is string => typeof v === "string");
    // A string enum of an integer-coded field is a select either way.
    return { ...base, kind: "enum", enumValues: values };
  }
  if (typeof s.const === "string") return { ...base, kind: "enum", enumValues: [s.const] };
  if (type === "object" && isSchema(s.properties) && depth < 4) {
    return { ...base, kind: "message", fields: fieldsFromJsonSchema(s, root, depth + 1) };
  }
  if (type === "string") return { ...base, kind: s.format === "byte" || s.contentEncoding === "base64" ? "bytes" : "string" };
  if (type === "integer") return { ...base, kind: "integer" };
  if (type === "number") return { ...base, kind: "number" };
  if (type === "boolean") return { ...base, kind: "boolean" };
  return { ...base, kind: "json" };
}
