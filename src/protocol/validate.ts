import { type DescField, type DescMessage, getExtension, hasExtension, type Message } from "@bufbuild/protobuf";
import { type FieldRules, rules as rulesExtension } from "../../gen/openenv/v1/options_pb.js";

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
    const options = field.proto.options;
    const rules = options !== undefined && hasExtension(options, rulesExtension) ? getExtension(options, rulesExtension) : undefined;
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

/** Returns true when the schema (or a message nested in it) declares any `(openenv.v1.rules)`. */
export function hasRules(schema: DescMessage): boolean {
  return compile(schema) !== null;
}

/**
 * Checks a message against the `(openenv.v1.rules)` options of its fields,
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
