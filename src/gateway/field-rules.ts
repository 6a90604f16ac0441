import { create, type DescMessage, getExtension, hasExtension, isFieldSet, type Message, setExtension } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import { type FieldOptions, FieldDescriptorProto_Type as Type } from "@bufbuild/protobuf/wkt";
import {
  BytesRulesSchema,
  DoubleRulesSchema,
  type FieldRules,
  FieldRulesSchema,
  FloatRulesSchema,
  field as fieldExtension,
  Int32RulesSchema,
  Int64RulesSchema,
  MapRulesSchema,
  RepeatedRulesSchema,
  StringRulesSchema,
  UInt32RulesSchema,
  UInt64RulesSchema,
} from "../../gen/buf/validate/validate_pb.js";

/**
 * The one place that knows how field rules are written in a proto:
 * protovalidate's `(buf.validate.field)` annotation, in the subset that
 * src/protocol/validate.ts enforces (the gateway checks them before the
 * upstream sees an action; any protovalidate implementation can check them
 * in a client). Earlier releases wrote the private `(openenv.v1.rules)`
 * option, which the validator still reads.
 */

/** Constraints a JSON Schema states about one field, in the generator's terms. */
export interface Constraints {
  /** The field must be set (enums: not the zero value; messages: present). */
  required?: boolean;
  /** Minimum length: characters, items or entries. */
  minLen?: number;
  /** Maximum length, counted as minLen. */
  maxLen?: number;
  /** Inclusive numeric lower bound (of each item, for a repeated field). */
  gte?: number;
  /** Inclusive numeric upper bound. */
  lte?: number;
  /** An ECMAScript regular expression (unanchored), checked against strings. */
  pattern?: string;
  /** The allowed values of a string field. */
  allowed?: string[];
}

/** The proto file a field rule option needs imported. */
export const rulesImport = "buf/validate/validate.proto";

/** True when there is anything to write. */
export function hasConstraints(c: Constraints): boolean {
  return (
    c.required === true ||
    c.minLen !== undefined ||
    c.maxLen !== undefined ||
    c.gte !== undefined ||
    c.lte !== undefined ||
    c.pattern !== undefined ||
    (c.allowed !== undefined && c.allowed.length > 0)
  );
}

/** The proto type the rules of a field apply to: the field's own, its items' (list), or a map's. */
export interface RuleTarget {
  readonly type: Type;
  readonly cardinality: "single" | "list" | "map";
}

/**
 * Writes the constraints into a field's options as a `(buf.validate.field)`
 * annotation, with the typed rules the field's type takes. Returns false (and
 * writes nothing) when none applies, e.g. a length on a google.protobuf.Struct,
 * which protovalidate has no rule for.
 */
export function applyRules(options: FieldOptions, c: Constraints, target: RuleTarget): boolean {
  const rules = create(FieldRulesSchema);
  if (c.required === true) rules.required = true;
  const { minLen, maxLen, ...each } = c;
  const min = minLen === undefined ? undefined : BigInt(minLen);
  const max = maxLen === undefined ? undefined : BigInt(maxLen);
  if (target.cardinality === "map") {
    if (min !== undefined || max !== undefined)
      rules.type = { case: "map", value: create(MapRulesSchema, { minPairs: min, maxPairs: max }) };
  } else if (target.cardinality === "list") {
    // Bounds, patterns and allowed values of a list apply to each item.
    const items = create(FieldRulesSchema, { type: scalarRules(target.type, each) });
    const repeated = create(RepeatedRulesSchema, { minItems: min, maxItems: max });
    if (items.type.case !== undefined) repeated.items = items;
    if (hasAny(RepeatedRulesSchema, repeated)) rules.type = { case: "repeated", value: repeated };
  } else {
    rules.type = scalarRules(target.type, c);
  }
  if (rules.required !== true && rules.type.case === undefined) return false;
  setExtension(options, fieldExtension, rules);
  return true;
}

/** The typed rules (`string`, `bytes`, `int32`...) of one value of the given type; none for enums, bools and messages. */
function scalarRules(type: Type, c: Constraints): FieldRules["type"] {
  const min = c.minLen === undefined ? undefined : BigInt(c.minLen);
  const max = c.maxLen === undefined ? undefined : BigInt(c.maxLen);
  if (type === Type.STRING) {
    // The schema model keeps only patterns RE2 and ECMAScript read alike (see regexp-subset.ts).
    // Equal bounds are `len` (buf lint's PROTOVALIDATE rule asks for it).
    const value = create(StringRulesSchema, { ...lengths(min, max), pattern: c.pattern, in: c.allowed ?? [] });
    return hasAny(StringRulesSchema, value) ? { case: "string", value } : { case: undefined };
  }
  if (type === Type.BYTES) {
    const value = create(BytesRulesSchema, lengths(min, max));
    return hasAny(BytesRulesSchema, value) ? { case: "bytes", value } : { case: undefined };
  }
  const numeric = NUMERIC[type];
  if (numeric === undefined || (c.gte === undefined && c.lte === undefined)) return { case: undefined };
  const bound = (n: number | undefined): number | bigint | undefined =>
    n === undefined || (numeric.integer && !Number.isInteger(n)) ? undefined : numeric.big ? BigInt(n) : n;
  const gte = bound(c.gte);
  const lte = bound(c.lte);
  const init = {
    ...(gte !== undefined ? { greaterThan: { case: "gte", value: gte } } : {}),
    ...(lte !== undefined ? { lessThan: { case: "lte", value: lte } } : {}),
  };
  return { case: numeric.case, value: create(numeric.schema as DescMessage, init) } as FieldRules["type"];
}

function lengths(min: bigint | undefined, max: bigint | undefined): { len?: bigint; minLen?: bigint; maxLen?: bigint } {
  return min !== undefined && min === max ? { len: min } : { minLen: min, maxLen: max };
}

function hasAny(schema: DescMessage, message: Message): boolean {
  return schema.fields.some((f) => isFieldSet(message, f));
}

const NUMERIC: Partial<Record<Type, { case: string; schema: DescMessage; integer: boolean; big: boolean }>> = {
  [Type.INT32]: { case: "int32", schema: Int32RulesSchema, integer: true, big: false },
  [Type.UINT32]: { case: "uint32", schema: UInt32RulesSchema, integer: true, big: false },
  [Type.INT64]: { case: "int64", schema: Int64RulesSchema, integer: true, big: true },
  [Type.UINT64]: { case: "uint64", schema: UInt64RulesSchema, integer: true, big: true },
  [Type.DOUBLE]: { case: "double", schema: DoubleRulesSchema, integer: false, big: false },
  [Type.FLOAT]: { case: "float", schema: FloatRulesSchema, integer: false, big: false },
};

/**
 * The rules of a field as .proto option text, one option a line, e.g.
 * `(buf.validate.field).string.max_len = 4` or `(buf.validate.field).repeated.items.int32.gte = 0`.
 */
export function printRules(options: FieldOptions | undefined): string[] {
  if (options === undefined || !hasExtension(options, fieldExtension)) return [];
  const out: string[] = [];
  printMessage(reflect(FieldRulesSchema, getExtension(options, fieldExtension)), "(buf.validate.field)", out);
  return out;
}

function printMessage(m: ReflectMessage, path: string, out: string[]): void {
  for (const f of m.fields) {
    if (!m.isSet(f)) continue;
    const name = `${path}.${f.name}`;
    if (f.fieldKind === "message") printMessage(m.get(f), name, out);
    else if (f.fieldKind === "list" && f.listKind === "scalar") for (const v of m.get(f)) out.push(`${name} = ${literal(v)}`);
    else if (f.fieldKind === "scalar") out.push(`${name} = ${literal(m.get(f))}`);
    else if (f.fieldKind === "enum") out.push(`${name} = ${f.enum.value[m.get(f)]?.name ?? m.get(f)}`);
    else throw new Error(`cannot print the rule ${name}`);
  }
}

function literal(v: unknown): string {
  if (typeof v === "string") return protoString(v);
  if (typeof v === "number") return protoNumber(v);
  return String(v);
}

function protoNumber(n: number): string {
  if (Number.isFinite(n)) return String(n);
  return n > 0 ? "inf" : "-inf";
}

/** A proto string literal: double quotes, with backslashes, quotes and control characters escaped. */
export function protoString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (ch === "\\") out += "\\\\";
    else if (ch === '"') out += '\\"';
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\${c.toString(8).padStart(3, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}
