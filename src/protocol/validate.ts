import { type DescField, type DescMessage, getExtension, hasExtension, type Message } from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import {
  FieldRulesSchema,
  type FieldRules as ProtovalidateRules,
  field as protovalidateField,
} from "../../gen/buf/validate/validate_pb.js";
import { rules as legacyRules } from "../../gen/openenv/v1/options_pb.js";

/**
 * The rules of one field, as this validator enforces them. They come from
 * protovalidate's `(buf.validate.field)` annotation (the subset below), or from
 * the older `(openenv.v1.rules)` option, which protos written for earlier
 * releases may still carry.
 */
export interface FieldRules {
  /** Set: a non-empty string or bytes, a non-zero number, a set message, a non-empty list or map. */
  readonly required: boolean;
  /** Length bounds: characters (code points) of a string, bytes, items of a list, entries of a map. */
  readonly minLen?: number | undefined;
  readonly maxLen?: number | undefined;
  /** Inclusive numeric bounds. */
  readonly gte?: number | undefined;
  readonly lte?: number | undefined;
  /** A regular expression a string must match (unanchored). */
  readonly pattern?: string | undefined;
  /** The values a string may take; empty: any. */
  readonly allowed: readonly string[];
}

/** protovalidate rules this validator implements, per rule message, mapped to {@link FieldRules} keys. */
const SUPPORTED: Record<string, Record<string, keyof FieldRules | "defined_only" | "len" | "items">> = {
  string: { len: "len", min_len: "minLen", max_len: "maxLen", pattern: "pattern", in: "allowed" },
  bytes: { len: "len", min_len: "minLen", max_len: "maxLen" },
  repeated: { min_items: "minLen", max_items: "maxLen", items: "items" },
  map: { min_pairs: "minLen", max_pairs: "maxLen" },
  enum: { defined_only: "defined_only" },
};
const NUMERIC = { gte: "gte", lte: "lte" } as const;

/** The rules of a field (undefined when it has none); throws for a protovalidate rule this validator does not implement. */
export function fieldRules(field: DescField): FieldRules | undefined {
  const options = field.proto.options;
  if (options === undefined) return undefined;
  if (hasExtension(options, protovalidateField)) return fromProtovalidate(field, getExtension(options, protovalidateField));
  if (hasExtension(options, legacyRules)) {
    const r = getExtension(options, legacyRules);
    return { required: r.required, minLen: r.minLen, maxLen: r.maxLen, gte: r.gte, lte: r.lte, pattern: r.pattern, allowed: r.allowed };
  }
  return undefined;
}

function fromProtovalidate(field: DescField, rules: ProtovalidateRules): FieldRules {
  const out: { -readonly [K in keyof FieldRules]: FieldRules[K] } = { required: rules.required, allowed: [] };
  const unsupported = (what: string): Error =>
    new Error(`${field.parent.typeName}.${field.name}: protovalidate rule ${what} is not supported by openenv-connect's validator`);
  const top = reflect(FieldRulesSchema, rules);
  for (const f of top.fields) {
    if (!top.isSet(f) || f.name === "required" || f.oneof?.name === "type") continue;
    throw unsupported(f.name);
  }
  const type = rules.type;
  if (type.case === undefined) return out;
  const kind = type.case === "fieldMask" ? "field_mask" : type.case;
  const map =
    SUPPORTED[kind] ??
    (["float", "double", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"].includes(
      kind,
    )
      ? NUMERIC
      : undefined);
  const schema = FieldRulesSchema.fields.find((f) => f.localName === type.case)?.message;
  if (schema === undefined) throw unsupported(kind);
  const sub = reflect(schema, type.value as Message);
  for (const f of sub.fields) {
    if (!sub.isSet(f)) continue;
    const key = map?.[f.name as keyof typeof map];
    if (key === undefined) throw unsupported(`${kind}.${f.name}`);
    const value = sub.get(f) as unknown;
    if (key === "items") {
      // Each item's rules: bounds, pattern and allowed values apply to every item of a list.
      const item = fromProtovalidate(field, (value as ReflectMessage).message as ProtovalidateRules);
      if (item.required || item.minLen !== undefined || item.maxLen !== undefined)
        throw unsupported("repeated.items with required or length rules");
      Object.assign(out, { gte: item.gte, lte: item.lte, pattern: item.pattern, allowed: item.allowed });
    } else if (key === "len") {
      out.minLen = Number(value);
      out.maxLen = Number(value);
    } else if (key === "defined_only") {
      // The enum's defined numbers, when contiguous, are a numeric range (as the older rules wrote it).
      const numbers = field.enum?.values.map((v) => v.number).sort((a, b) => a - b) ?? [];
      const contiguous = numbers.every((n, i) => i === 0 || n === (numbers[i - 1] as number) + 1);
      if (!contiguous || numbers.length === 0) throw unsupported("enum.defined_only on an enum with gaps");
      out.gte = numbers[0];
      out.lte = numbers[numbers.length - 1];
    } else if (key === "allowed") {
      out.allowed = [...(value as Iterable<string>)];
    } else if (key === "pattern") {
      out.pattern = value as string;
    } else if (key !== "required") {
      out[key] = Number(value);
    }
  }
  return out;
}

/** A field's location as path segments (field names, list indexes, map keys), as in Pydantic's `loc`. */
export type FieldLoc = readonly (string | number)[];

/** One violated field rule. `field` is a path such as `message` or `moves[2].column`. */
export interface FieldViolation {
  readonly field: string;
  /** The same path as segments, e.g. `["moves", 2, "column"]`. */
  readonly loc: FieldLoc;
  readonly rule: "required" | "min_len" | "max_len" | "gte" | "lte" | "pattern" | "allowed";
  readonly description: string;
  /** The offending value (for OpenEnv's `input` key). */
  readonly value: unknown;
  /** The rule's bound, if it has one (for OpenEnv's `ctx` key). */
  readonly limit?: number | string | readonly string[];
}

interface FieldCheck {
  readonly field: DescField;
  readonly rules: FieldRules | undefined;
  readonly pattern: RegExp | undefined;
  /** Schema of a message-typed field whose own fields carry rules. */
  readonly nested: CompiledRules | undefined;
}

interface CompiledRules {
  readonly checks: readonly FieldCheck[];
}

const compiled = new WeakMap<DescMessage, CompiledRules | null>();

/** Compiles (once per schema) the fields that need checking; null when none do. */
function compile(schema: DescMessage, visiting = new Set<DescMessage>()): CompiledRules | null {
  const cached = compiled.get(schema);
  if (cached !== undefined) return cached;
  if (visiting.has(schema)) return null; // recursive message types: rules on the cycle are checked at the outer level
  visiting.add(schema);
  const checks: FieldCheck[] = [];
  for (const field of schema.fields) {
    const rules = fieldRules(field);
    const child = field.message !== undefined ? compile(field.message, visiting) : null;
    if (rules === undefined && child === null) continue;
    checks.push({
      field,
      rules,
      pattern: rules?.pattern !== undefined ? new RegExp(rules.pattern, "u") : undefined,
      nested: child ?? undefined,
    });
  }
  visiting.delete(schema);
  const result = checks.length > 0 ? { checks } : null;
  compiled.set(schema, result);
  return result;
}

/** Returns true when the schema (or a message nested in it) declares any field rules. */
export function hasRules(schema: DescMessage): boolean {
  return compile(schema) !== null;
}

/**
 * Checks a message against the rules of its fields (see {@link fieldRules}),
 * recursively. Returns an empty array when the message is valid.
 */
export function validateMessage(schema: DescMessage, message: Message): FieldViolation[] {
  const rules = compile(schema);
  if (rules === null) return [];
  const out: FieldViolation[] = [];
  checkMessage(rules, message as unknown as Record<string, unknown>, "", [], out);
  return out;
}

function readField(message: Record<string, unknown>, field: DescField): unknown {
  if (field.oneof !== undefined) {
    const oneof = message[field.oneof.localName] as { case: string | undefined; value?: unknown };
    return oneof.case === field.localName ? oneof.value : undefined;
  }
  return message[field.localName];
}

function checkMessage(
  rules: CompiledRules,
  message: Record<string, unknown>,
  prefix: string,
  prefixLoc: FieldLoc,
  out: FieldViolation[],
): void {
  for (const check of rules.checks) {
    const { field } = check;
    const path = prefix === "" ? field.name : `${prefix}.${field.name}`;
    const loc = [...prefixLoc, field.name];
    const value = readField(message, field);
    if (check.rules !== undefined) checkValue(check, field, value, path, loc, out);
    if (check.nested !== undefined && value !== undefined) {
      if (field.fieldKind === "message") {
        checkMessage(check.nested, value as Record<string, unknown>, path, loc, out);
      } else if (field.fieldKind === "list") {
        (value as Record<string, unknown>[]).forEach((item, i) => {
          checkMessage(check.nested as CompiledRules, item, `${path}[${i}]`, [...loc, i], out);
        });
      } else if (field.fieldKind === "map") {
        for (const [key, item] of Object.entries(value as Record<string, Record<string, unknown>>)) {
          checkMessage(check.nested, item, `${path}[${JSON.stringify(key)}]`, [...loc, key], out);
        }
      }
    }
  }
}

function isEmpty(field: DescField, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  switch (field.fieldKind) {
    case "list":
      return (value as unknown[]).length === 0;
    case "map":
      return Object.keys(value as object).length === 0;
    case "message":
      return false;
    default:
      if (field.oneof !== undefined || field.presence === 1 /* EXPLICIT */) return false;
      if (typeof value === "string") return value.length === 0;
      if (value instanceof Uint8Array) return value.length === 0;
      if (typeof value === "bigint") return value === 0n;
      if (typeof value === "number") return value === 0;
      if (typeof value === "boolean") return !value;
      return false;
  }
}

/**
 * Length of a string (code points), bytes, list or map. For strings the UTF-16
 * length bounds the code point count (n/2 <= points <= n), so the exact count
 * is only taken when a bound could be violated.
 */
function lengthWithin(value: unknown, min: number | undefined, max: number | undefined): number | undefined {
  if (typeof value === "string") {
    const units = value.length;
    if ((max === undefined || units <= max) && (min === undefined || Math.ceil(units / 2) >= min)) return units;
    let points = 0;
    for (const _ of value) points++;
    return points;
  }
  if (value instanceof Uint8Array || Array.isArray(value)) return value.length;
  if (value !== null && typeof value === "object") return Object.keys(value).length;
  return undefined;
}

function checkValue(check: FieldCheck, field: DescField, value: unknown, path: string, loc: FieldLoc, out: FieldViolation[]): void {
  const r = check.rules as FieldRules;
  if (r.required && isEmpty(field, value)) {
    out.push({ field: path, loc, rule: "required", description: "value is required", value });
    return;
  }
  if (value === undefined) return;
  if (r.minLen !== undefined || r.maxLen !== undefined) {
    const length = lengthWithin(value, r.minLen, r.maxLen);
    if (length !== undefined) {
      const unit = typeof value === "string" ? "characters" : value instanceof Uint8Array ? "bytes" : "items";
      if (r.minLen !== undefined && length < r.minLen) {
        out.push({
          field: path,
          loc,
          rule: "min_len",
          description: `value must have at least ${r.minLen} ${unit}`,
          value,
          limit: r.minLen,
        });
      }
      if (r.maxLen !== undefined && length > r.maxLen) {
        out.push({ field: path, loc, rule: "max_len", description: `value must have at most ${r.maxLen} ${unit}`, value, limit: r.maxLen });
      }
    }
  }
  const values = field.fieldKind === "list" ? (value as unknown[]) : [value];
  values.forEach((item, i) => {
    const itemPath = field.fieldKind === "list" ? `${path}[${i}]` : path;
    const itemLoc = field.fieldKind === "list" ? [...loc, i] : loc;
    const num = typeof item === "number" ? item : typeof item === "bigint" ? Number(item) : undefined;
    if (num !== undefined) {
      if (r.gte !== undefined && !(num >= r.gte)) {
        out.push({
          field: itemPath,
          loc: itemLoc,
          rule: "gte",
          description: `value must be greater than or equal to ${r.gte}`,
          value: item,
          limit: r.gte,
        });
      }
      if (r.lte !== undefined && !(num <= r.lte)) {
        out.push({
          field: itemPath,
          loc: itemLoc,
          rule: "lte",
          description: `value must be less than or equal to ${r.lte}`,
          value: item,
          limit: r.lte,
        });
      }
    }
    if (typeof item === "string") {
      if (check.pattern !== undefined && !check.pattern.test(item)) {
        out.push({
          field: itemPath,
          loc: itemLoc,
          rule: "pattern",
          description: `value must match the pattern ${r.pattern}`,
          value: item,
          limit: r.pattern,
        });
      }
      if (r.allowed.length > 0 && !r.allowed.includes(item)) {
        out.push({
          field: itemPath,
          loc: itemLoc,
          rule: "allowed",
          description: `value must be one of ${r.allowed.map((a) => `'${a}'`).join(", ")}`,
          value: item,
          limit: r.allowed,
        });
      }
    }
  });
}
