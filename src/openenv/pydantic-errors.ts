import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { setOwn } from "../protocol/own-keys.js";

/**
 * Errors in the shape OpenEnv's Python server reports them: Pydantic's
 * `errors()` entries, `str(ValidationError)` text, and the Python `repr`,
 * `str` and type names its messages quote.
 */

/** A location: field names, list indexes and map keys from the root. */
export type Loc = readonly (string | number)[];

/** One validation error in Pydantic's `errors()` shape. */
export interface OpenEnvFieldError {
  /** Pydantic's error type, e.g. `missing`, `extra_forbidden`, `string_too_long`. */
  readonly type: string;
  readonly loc: Loc;
  /** Pydantic's message, e.g. `Field required`. */
  readonly msg: string;
  /** The offending value (for `missing`: the object that lacks the field). */
  readonly input: JsonValue;
  /** The rule's parameters, e.g. `{"max_length": 8}`. */
  readonly ctx?: JsonObject;
}

/** One error in Pydantic's `errors()` shape. */
export function fieldError(loc: Loc, type: string, msg: string, input: unknown, ctx?: JsonObject): OpenEnvFieldError {
  const e: OpenEnvFieldError = { type, loc: [...loc], msg, input: (input === undefined ? null : input) as JsonValue };
  return ctx === undefined ? e : { ...e, ctx };
}

/** Pydantic's `missing`: `input` is the object that lacks the field. */
export function missingField(loc: Loc, input: unknown): OpenEnvFieldError {
  return fieldError(loc, "missing", "Field required", input);
}

/** Pydantic's `literal_error` for a field that must be one of `values`. */
export function literalError(loc: Loc, values: readonly string[], input: unknown): OpenEnvFieldError {
  const expected = expectedList(values);
  return fieldError(loc, "literal_error", `Input should be ${expected}`, input, { expected });
}

/** Pydantic's `'a', 'b' or 'c'`. */
export function expectedList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}

/** A number as Python prints it: `1` for integers of integral fields, `1.0` for floats. */
export function pythonNumber(n: number, integral: boolean): string {
  if (integral || !Number.isInteger(n)) return String(n);
  return Math.abs(n) < 1e16 ? n.toFixed(1) : String(n);
}

/** Pydantic's documentation link, part of the error shape OpenEnv sends for model errors. */
const PYDANTIC_URL = "https://errors.pydantic.dev/2.14/v/";

/** Longest string kept in an error's `input`: errors must not echo a 100 MB frame back. */
const MAX_INPUT_CHARS = 4096;

/**
 * Errors as Pydantic's `errors()` list: `url` is added for model errors (what
 * OpenEnv returns for actions and WebSocket frames) and left out for FastAPI's
 * request-body errors; long strings in `input` are cut.
 */
export function pydanticErrors(errors: readonly OpenEnvFieldError[], withUrl: boolean): JsonObject[] {
  return errors.map((e) => {
    const out: JsonObject = { type: e.type, loc: [...e.loc], msg: e.msg, input: clip(e.input) };
    if (e.ctx !== undefined) out.ctx = e.ctx;
    if (withUrl) out.url = `${PYDANTIC_URL}${e.type}`;
    return out;
  });
}

function clip(v: JsonValue): JsonValue {
  if (typeof v === "string") return v.length > MAX_INPUT_CHARS ? `${v.slice(0, MAX_INPUT_CHARS)}...` : v;
  if (Array.isArray(v)) return v.length > 100 ? [...v.slice(0, 100).map(clip), "..."] : v.map(clip);
  if (v !== null && typeof v === "object") {
    const out: JsonObject = {};
    for (const [k, item] of Object.entries(v)) setOwn(out, k, clip(item as JsonValue));
    return out;
  }
  return v;
}

/** `str(ValidationError)` as Pydantic words it. */
export function pydanticText(model: string, errors: readonly OpenEnvFieldError[]): string {
  const lines = [`${errors.length} validation error${errors.length === 1 ? "" : "s"} for ${model}`];
  for (const e of errors) {
    let repr = pythonRepr(e.input);
    if (repr.length > 50) repr = `${repr.slice(0, 25)}...${repr.slice(-24)}`;
    lines.push(e.loc.length > 0 ? e.loc.join(".") : model);
    lines.push(`  ${e.msg} [type=${e.type}, input_value=${repr}, input_type=${pythonTypeName(e.input)}]`);
    lines.push(`    For further information visit https://errors.pydantic.dev/2.14/v/${e.type}`);
  }
  return lines.join("\n");
}

/** Python's `type(x).__name__` of a JSON value, for messages that name a wrong type. */
export function pythonTypeName(v: unknown): string {
  if (v === null) return "NoneType";
  if (Array.isArray(v)) return "list";
  switch (typeof v) {
    case "string":
      return "str";
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(v) ? "int" : "float";
    default:
      return "dict";
  }
}

/** Python's `str(x)` of a JSON value, as in `f"Unknown message type: {x}"`. */
export function pythonStr(v: unknown): string {
  if (typeof v === "string") return v;
  return pythonRepr(v);
}

/** Python's `repr(x)` of a JSON value. */
export function pythonRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? "inf" : v < 0 ? "-inf" : "nan";
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v
      .replace(/\\/g, "\\\\")
      .replace(/\n/g, "\\n")
      .replace(/\r/g, "\\r")
      .replace(/\t/g, "\\t")
      .replace(new RegExp(q, "g"), `\\${q}`);
    return `${q}${body}${q}`;
  }
  if (Array.isArray(v)) return `[${v.map(pythonRepr).join(", ")}]`;
  return `{${Object.entries(v as object)
    .map(([k, item]) => `${pythonRepr(k)}: ${pythonRepr(item)}`)
    .join(", ")}}`;
}
