import type { JsonObject } from "@bufbuild/protobuf";
import type { Constraints } from "./field-rules.js";
import type { ScalarKind } from "./proto-model.js";
import { isRe2Compatible } from "./regexp-subset.js";
import type { Resolved } from "./resolved-schema.js";

/**
 * JSON Schema's value limits → the `Constraints` field-rules.ts writes as
 * protovalidate rules; a limit no rule can state exactly is named in the
 * comment as checked by the upstream only.
 */

/** Keywords that only constrain values further: named in the comment, checked by the upstream. */
const UNCHECKED = ["multipleOf", "uniqueItems", "contains", "minContains", "maxContains", "propertyNames", "dependentRequired"];

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

export function uncheckedNotes(schema: JsonObject): string[] {
  const keys = UNCHECKED.filter((k) => k in schema);
  const format = typeof schema.format === "string" && schema.format !== "binary" ? [`format ${schema.format}`] : [];
  const all = [...keys, ...format];
  return all.length === 0 ? [] : [`Checked by the upstream only: ${all.join(", ")}.`];
}

export function stringResolved(schema: JsonObject): Resolved {
  const constraints: Constraints = {};
  const notes: string[] = [];
  if (typeof schema.minLength === "number") constraints.minLen = schema.minLength;
  if (typeof schema.maxLength === "number") constraints.maxLen = schema.maxLength;
  if (typeof schema.pattern === "string") {
    // protovalidate's pattern is RE2: only a pattern both engines read alike becomes a rule.
    if (isRe2Compatible(schema.pattern)) constraints.pattern = schema.pattern;
    else
      notes.push(
        `The pattern ${JSON.stringify(schema.pattern)} is outside the subset RE2 and ECMAScript read alike: checked by the upstream only.`,
      );
  }
  const bytes = schema.contentEncoding === "base64";
  return { shape: { kind: "scalar", scalar: bytes ? "bytes" : "string" }, nullable: false, constraints, notes };
}

/** The narrowest proto integer type holding every value from `min` to `max`. */
export function integerType(min: number | undefined, max: number | undefined): ScalarKind {
  if (min !== undefined && max !== undefined && min >= INT32_MIN && max <= INT32_MAX) return "int32";
  if (min !== undefined && min >= 0) return max !== undefined && max <= UINT32_MAX ? "uint32" : "uint64";
  return "int64";
}

/** gte/lte rules, leaving out the bounds the proto type has anyway. */
export function boundsRules(type: ScalarKind, min: number | undefined, max: number | undefined): Constraints {
  const c: Constraints = {};
  const typeMin = type === "int32" ? INT32_MIN : type === "uint32" || type === "uint64" ? 0 : undefined;
  const typeMax = type === "int32" ? INT32_MAX : type === "uint32" ? UINT32_MAX : undefined;
  if (min !== undefined && min !== typeMin) c.gte = min;
  if (max !== undefined && max !== typeMax) c.lte = max;
  return c;
}

export function integerResolved(schema: JsonObject): Resolved {
  const notes: string[] = [];
  let min = typeof schema.minimum === "number" ? schema.minimum : undefined;
  let max = typeof schema.maximum === "number" ? schema.maximum : undefined;
  if (typeof schema.exclusiveMinimum === "number") min = Math.max(min ?? -Infinity, Math.floor(schema.exclusiveMinimum) + 1);
  if (typeof schema.exclusiveMaximum === "number") max = Math.min(max ?? Infinity, Math.ceil(schema.exclusiveMaximum) - 1);
  if (schema.exclusiveMinimum === true && min !== undefined) min = Math.floor(min) + 1;
  if (schema.exclusiveMaximum === true && max !== undefined) max = Math.ceil(max) - 1;
  if (min !== undefined) min = Math.ceil(min);
  if (max !== undefined) max = Math.floor(max);
  const type = integerType(min, max);
  return { shape: { kind: "scalar", scalar: type }, nullable: false, constraints: boundsRules(type, min, max), notes };
}

export function numberResolved(schema: JsonObject): Resolved {
  const constraints: Constraints = {};
  const notes: string[] = [];
  if (typeof schema.minimum === "number") constraints.gte = schema.minimum;
  if (typeof schema.maximum === "number") constraints.lte = schema.maximum;
  const exclusive = ["exclusiveMinimum", "exclusiveMaximum"].filter((k) => k in schema);
  if (exclusive.length > 0)
    notes.push(`Checked by the upstream only: ${exclusive.map((k) => `${k} ${JSON.stringify(schema[k])}`).join(", ")}.`);
  return { shape: { kind: "scalar", scalar: "double" }, nullable: false, constraints, notes };
}

/** minLen/maxLen from a pair of size keywords (`minItems`/`maxItems`, `minProperties`/`maxProperties`). */
export function sizeRules(schema: JsonObject, minKey: string, maxKey: string): Constraints {
  const constraints: Constraints = {};
  const min = schema[minKey];
  const max = schema[maxKey];
  if (typeof min === "number") constraints.minLen = min;
  if (typeof max === "number") constraints.maxLen = max;
  return constraints;
}

/** A list's rules: its own size, and the rules of its items that protovalidate applies to each item. */
export function listRules(schema: JsonObject, item: Constraints, notes: string[]): Constraints {
  const constraints = sizeRules(schema, "minItems", "maxItems");
  // An item's own lengths cannot be said.
  if (item.gte !== undefined) constraints.gte = item.gte;
  if (item.lte !== undefined) constraints.lte = item.lte;
  if (item.pattern !== undefined) constraints.pattern = item.pattern;
  if (item.allowed !== undefined) constraints.allowed = item.allowed;
  if (item.minLen !== undefined || item.maxLen !== undefined) notes.push("The items' length limits are checked by the upstream.");
  return constraints;
}
