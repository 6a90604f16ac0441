import { create, getExtension, hasExtension, setExtension } from "@bufbuild/protobuf";
import type { FieldOptions } from "@bufbuild/protobuf/wkt";
import { FieldRulesSchema, rules as rulesExtension } from "../../gen/openenv/v1/options_pb.js";

/**
 * The one place that knows how field rules are written in a proto: today the
 * `(openenv.v1.rules)` options the server enforces. Switching the generated
 * protos to another dialect (protovalidate's `buf.validate.field`) means
 * changing this module only.
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
export const rulesImport = "openenv/v1/options.proto";

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

/** Writes the constraints into a field's options (as the extension the server reads). */
export function applyRules(options: FieldOptions, c: Constraints): void {
  setExtension(
    options,
    rulesExtension,
    create(FieldRulesSchema, {
      required: c.required === true,
      minLen: c.minLen,
      maxLen: c.maxLen,
      gte: c.gte,
      lte: c.lte,
      pattern: c.pattern,
      allowed: c.allowed ?? [],
    }),
  );
}

/** The rule options of a field as .proto option text, e.g. `(openenv.v1.rules).max_len = 4`. */
export function printRules(options: FieldOptions | undefined): string[] {
  if (options === undefined || !hasExtension(options, rulesExtension)) return [];
  const r = getExtension(options, rulesExtension);
  const out: string[] = [];
  const opt = (name: string, value: string): void => {
    out.push(`(openenv.v1.rules).${name} = ${value}`);
  };
  if (r.required) opt("required", "true");
  if (r.minLen !== undefined) opt("min_len", String(r.minLen));
  if (r.maxLen !== undefined) opt("max_len", String(r.maxLen));
  if (r.gte !== undefined) opt("gte", protoNumber(r.gte));
  if (r.lte !== undefined) opt("lte", protoNumber(r.lte));
  if (r.pattern !== undefined) opt("pattern", protoString(r.pattern));
  for (const a of r.allowed) opt("allowed", protoString(a));
  return out;
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
