import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonObject,
  type JsonValue,
  type MessageShape,
  type Registry,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { isJsonObject } from "../../protocol/json-object.js";
import { findProtoKey, setOwn } from "../../protocol/own-keys.js";
import { type FieldViolation, validateMessage } from "../../protocol/validate.js";

/**
 * OpenEnv's JSON form of protobuf messages, both ways.
 *
 * OpenEnv sends Pydantic `model_dump()` output: snake_case field names, every
 * field present (unset optional ones as `null`), integers as JSON numbers. This
 * module maps our typed messages to that form (proto field names, 64-bit
 * integers as numbers while they are exact, enums by name, well-known types in
 * their proto JSON form) and parses it back, reporting every problem at once in
 * Pydantic's error shape (`type`, `loc`, `msg`, `input`, `ctx`) so OpenEnv
 * clients see the errors they know. Parsing also accepts what proto JSON
 * accepts: lowerCamelCase names, integers as strings, enum numbers, `null` for
 * "unset".
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

/** Options of {@link decodeOpenEnvJson}. */
export interface OpenEnvDecodeOptions {
  /** Registry for `google.protobuf.Any` values inside the message. */
  readonly registry?: Registry;
  /** Skip keys that name no field (a client reading a newer server). Default false: `extra_forbidden`. */
  readonly ignoreUnknownFields?: boolean;
  /** Check the `(openenv.v1.rules)` field rules. Default true. */
  readonly rules?: boolean;
}

/** A decoded message, or every error found. */
export type OpenEnvDecodeResult<M> =
  | { readonly ok: true; readonly message: M }
  | { readonly ok: false; readonly errors: OpenEnvFieldError[] };

/** Encodes a message in OpenEnv's JSON form. */
export function encodeOpenEnvJson(schema: DescMessage, message: MessageShape<DescMessage>, registry?: Registry): JsonObject {
  const json = toJson(schema, message, { useProtoFieldName: true, alwaysEmitImplicit: true, registry }) as JsonObject;
  return reshape(schema, json);
}

/** Decodes OpenEnv JSON into a message of `schema`, validating types, unknown keys and field rules. */
export function decodeOpenEnvJson<D extends DescMessage>(
  schema: D,
  json: unknown,
  options: OpenEnvDecodeOptions = {},
): OpenEnvDecodeResult<MessageShape<D>> {
  const walker = new Walker(options);
  const normalized = walker.message(schema, json, []);
  let message: MessageShape<D> | undefined;
  if (normalized !== undefined) {
    try {
      message = fromJson(schema, normalized, { registry: options.registry });
    } catch (err) {
      walker.error([], "value_error", `Value error, ${errorText(err)}`, json as JsonValue, { error: errorText(err) });
    }
  }
  if (message !== undefined && options.rules !== false) {
    for (const v of validateMessage(schema, message)) walker.violation(v);
  }
  const errors = walker.sorted();
  if (errors.length > 0 || message === undefined) return { ok: false, errors };
  return { ok: true, message };
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

const keyOf = (loc: Loc): string => JSON.stringify(loc);

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const INT_BOUNDS: Partial<Record<ScalarType, readonly [bigint, bigint]>> = {
  [ScalarType.INT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SINT32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.SFIXED32]: [-(2n ** 31n), 2n ** 31n - 1n],
  [ScalarType.UINT32]: [0n, 2n ** 32n - 1n],
  [ScalarType.FIXED32]: [0n, 2n ** 32n - 1n],
  [ScalarType.INT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SINT64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.SFIXED64]: [-(2n ** 63n), 2n ** 63n - 1n],
  [ScalarType.UINT64]: [0n, 2n ** 64n - 1n],
  [ScalarType.FIXED64]: [0n, 2n ** 64n - 1n],
};

const is64 = (t: ScalarType): boolean =>
  t === ScalarType.INT64 || t === ScalarType.UINT64 || t === ScalarType.SINT64 || t === ScalarType.FIXED64 || t === ScalarType.SFIXED64;

/** True for scalar types whose rule bounds print as integers. */
export function isIntegral(field: DescField): boolean {
  const t = field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") ? field.scalar : undefined;
  return t !== undefined && INT_BOUNDS[t] !== undefined;
}

const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

interface Pending {
  readonly error: OpenEnvFieldError;
  readonly order: number;
}

/** Walks OpenEnv JSON along a schema: collects errors in Pydantic's order and builds canonical proto JSON. */
class Walker {
  private readonly pending: Pending[] = [];
  private readonly order = new Map<string, number>();
  private readonly raw = new Map<string, unknown>();
  private readonly fieldOf = new Map<string, DescField>();
  /** Locations whose value could not be decoded: their field rules are not checked. */
  private readonly decodeErrors = new Set<string>();
  private counter = 0;

  constructor(private readonly options: OpenEnvDecodeOptions) {}

  private visit(loc: Loc, value: unknown, field?: DescField): void {
    const key = keyOf(loc);
    if (!this.order.has(key)) this.order.set(key, this.counter++);
    this.raw.set(key, value);
    if (field !== undefined) this.fieldOf.set(key, field);
  }

  error(loc: Loc, type: string, msg: string, input: unknown, ctx?: JsonObject): void {
    this.push(loc, type, msg, input, ctx);
    this.decodeErrors.add(keyOf(loc));
  }

  private push(loc: Loc, type: string, msg: string, input: unknown, ctx?: JsonObject): void {
    const order = this.order.get(keyOf(loc)) ?? this.counter++;
    const error: OpenEnvFieldError = { type, loc: [...loc], msg, input: (input === undefined ? null : input) as JsonValue };
    this.pending.push({ error: ctx === undefined ? error : { ...error, ctx }, order });
  }

  /** Adds a field-rule violation unless the field (or a message around it) could not be decoded. */
  violation(v: FieldViolation): void {
    const key = keyOf(v.loc);
    for (const k of this.decodeErrors) {
      if (key === k || key.startsWith(`${k.slice(0, -1)},`)) return;
    }
    const present = this.raw.get(key);
    const field = this.fieldOf.get(key);
    const integral = field !== undefined && isIntegral(field);
    // An absent field breaks a rule with its default value (proto3 cannot tell them apart).
    const input = present === undefined || present === null ? jsonOf(v.value) : present;
    switch (v.rule) {
      case "required": {
        if (present === undefined || present === null) {
          this.push(v.loc, "missing", "Field required", this.raw.get(keyOf(v.loc.slice(0, -1))) ?? {});
        } else {
          this.push(v.loc, "value_error", "Value error, value is required", input, { error: "value is required" });
        }
        return;
      }
      case "min_len":
      case "max_len": {
        const limit = v.limit as number;
        const min = v.rule === "min_len";
        const plural = limit === 1 ? "" : "s";
        if (field?.fieldKind === "scalar" && field.scalar === ScalarType.STRING) {
          this.push(
            v.loc,
            min ? "string_too_short" : "string_too_long",
            `String should have ${min ? "at least" : "at most"} ${limit} character${plural}`,
            input,
            min ? { min_length: limit } : { max_length: limit },
          );
        } else if (field?.fieldKind === "scalar") {
          this.push(
            v.loc,
            min ? "bytes_too_short" : "bytes_too_long",
            `Data should have ${min ? "at least" : "at most"} ${limit} byte${plural}`,
            input,
            min ? { min_length: limit } : { max_length: limit },
          );
        } else {
          const fieldType = field?.fieldKind === "map" ? "Dictionary" : "List";
          const actual = Array.isArray(present) ? present.length : isJsonObject(present) ? Object.keys(present).length : 0;
          this.push(
            v.loc,
            min ? "too_short" : "too_long",
            `${fieldType} should have ${min ? "at least" : "at most"} ${limit} item${plural} after validation, not ${actual}`,
            input,
            min
              ? { field_type: fieldType, min_length: limit, actual_length: actual }
              : { field_type: fieldType, max_length: limit, actual_length: actual },
          );
        }
        return;
      }
      case "gte":
        this.push(
          v.loc,
          "greater_than_equal",
          `Input should be greater than or equal to ${pythonNumber(v.limit as number, integral)}`,
          input,
          { ge: v.limit as number },
        );
        return;
      case "lte":
        this.push(v.loc, "less_than_equal", `Input should be less than or equal to ${pythonNumber(v.limit as number, integral)}`, input, {
          le: v.limit as number,
        });
        return;
      case "pattern":
        this.push(v.loc, "string_pattern_mismatch", `String should match pattern '${v.limit as string}'`, input, {
          pattern: v.limit as string,
        });
        return;
      case "allowed": {
        const expected = expectedList(v.limit as readonly string[]);
        this.push(v.loc, "literal_error", `Input should be ${expected}`, input, { expected });
        return;
      }
    }
  }

  sorted(): OpenEnvFieldError[] {
    return this.pending
      .map((p, i) => ({ ...p, i }))
      .sort((a, b) => a.order - b.order || a.i - b.i)
      .map((p) => p.error);
  }

  message(schema: DescMessage, json: unknown, loc: Loc): JsonObject | undefined {
    if (!isJsonObject(json)) {
      this.error(loc, loc.length === 0 ? "model_attributes_type" : "model_type", modelTypeMessage(schema, loc), json, {
        class_name: schema.name,
      });
      return undefined;
    }
    this.visit(loc, json);
    const out: JsonObject = {};
    const used = new Set<string>();
    const oneofs = new Map<string, string>();
    for (const field of schema.fields) {
      const floc = [...loc, field.name];
      let key: string | undefined = Object.hasOwn(json, field.name) ? field.name : undefined;
      if (field.jsonName !== field.name && Object.hasOwn(json, field.jsonName)) {
        used.add(field.jsonName);
        if (key !== undefined) {
          this.visit(floc, json[field.name], field);
          this.error(
            floc,
            "value_error",
            `Value error, '${field.name}' is given twice (also as '${field.jsonName}')`,
            json[field.jsonName],
            {
              error: `'${field.name}' is given twice`,
            },
          );
          used.add(field.name);
          continue;
        }
        key = field.jsonName;
      }
      if (key === undefined) {
        this.visit(floc, undefined, field);
        continue;
      }
      used.add(key);
      const value = json[key];
      this.visit(floc, value, field);
      if (value === null && field.message?.typeName !== "google.protobuf.Value") continue; // proto JSON: null is "unset"
      if (field.oneof !== undefined) {
        const other = oneofs.get(field.oneof.name);
        if (other !== undefined) {
          this.error(
            floc,
            "value_error",
            `Value error, only one of '${other}' and '${field.name}' may be set (oneof ${field.oneof.name})`,
            value,
            {
              error: `oneof ${field.oneof.name} is set twice`,
            },
          );
          continue;
        }
        oneofs.set(field.oneof.name, field.name);
      }
      const v = this.field(field, value, floc);
      if (v !== undefined) out[field.name] = v;
    }
    for (const key of Object.keys(json)) {
      if (used.has(key) || this.options.ignoreUnknownFields) continue;
      const floc = [...loc, key];
      this.visit(floc, json[key]);
      this.error(floc, "extra_forbidden", "Extra inputs are not permitted", json[key]);
    }
    return out;
  }

  private field(field: DescField, value: unknown, loc: Loc): JsonValue | undefined {
    switch (field.fieldKind) {
      case "scalar":
        return this.scalar(field.scalar, value, loc);
      case "enum":
        return this.enumValue(field.enum, value, loc);
      case "message":
        return this.messageValue(field.message, value, loc);
      case "list": {
        if (!Array.isArray(value)) {
          this.error(loc, "list_type", "Input should be a valid list", value);
          return undefined;
        }
        const out: JsonValue[] = [];
        value.forEach((item: unknown, i) => {
          const iloc = [...loc, i];
          this.visit(iloc, item, field);
          const v =
            field.listKind === "scalar"
              ? this.scalar(field.scalar, item, iloc)
              : field.listKind === "enum"
                ? this.enumValue(field.enum, item, iloc)
                : this.messageValue(field.message, item, iloc);
          if (v !== undefined) out.push(v);
        });
        return out;
      }
      case "map": {
        if (!isJsonObject(value)) {
          this.error(loc, "dict_type", "Input should be a valid dictionary", value);
          return undefined;
        }
        const out: JsonObject = {};
        for (const [k, item] of Object.entries(value)) {
          const kloc = [...loc, k];
          this.visit(kloc, item);
          if (!this.mapKey(field.mapKey, k, [...loc, `${k}`, "[key]"])) continue;
          if (k === "__proto__") {
            this.error(kloc, "value_error", "Value error, the key '__proto__' is not supported", item, { error: "unsupported key" });
            continue;
          }
          const v =
            field.mapKind === "scalar"
              ? this.scalar(field.scalar, item, kloc)
              : field.mapKind === "enum"
                ? this.enumValue(field.enum, item, kloc)
                : this.messageValue(field.message, item, kloc);
          if (v !== undefined) out[k] = v;
        }
        return out;
      }
    }
  }

  private mapKey(type: ScalarType, key: string, loc: Loc): boolean {
    if (type === ScalarType.STRING) return true;
    if (type === ScalarType.BOOL) {
      if (key === "true" || key === "false") return true;
      this.error(loc, "bool_parsing", "Input should be a valid boolean, unable to interpret input", key);
      return false;
    }
    return this.scalar(type, key, loc) !== undefined;
  }

  private scalar(type: ScalarType, value: unknown, loc: Loc): JsonValue | undefined {
    switch (type) {
      case ScalarType.STRING:
        if (typeof value === "string") return value;
        this.error(loc, "string_type", "Input should be a valid string", value);
        return undefined;
      case ScalarType.BOOL:
        if (typeof value === "boolean") return value;
        this.error(loc, "bool_type", "Input should be a valid boolean", value);
        return undefined;
      case ScalarType.BYTES:
        if (typeof value !== "string") {
          this.error(loc, "bytes_type", "Input should be a valid bytes", value);
          return undefined;
        }
        if (!BASE64.test(value)) {
          this.error(loc, "bytes_invalid_encoding", "Data should be valid base64", value, {
            encoding: "base64",
            encoding_error: "invalid base64 data",
          });
          return undefined;
        }
        return value;
      case ScalarType.DOUBLE:
      case ScalarType.FLOAT:
        if (typeof value === "number") return value;
        if (typeof value === "string") {
          if (value === "NaN" || value === "Infinity" || value === "-Infinity") return value;
          const n = value.trim() === "" ? Number.NaN : Number(value);
          if (Number.isFinite(n)) return n;
          this.error(loc, "float_parsing", "Input should be a valid number, unable to parse string as a number", value);
          return undefined;
        }
        this.error(loc, "float_type", "Input should be a valid number", value);
        return undefined;
      default:
        return this.integer(type, value, loc);
    }
  }

  private integer(type: ScalarType, value: unknown, loc: Loc): JsonValue | undefined {
    let n: bigint;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) {
        this.error(loc, "finite_number", "Input should be a finite number", value);
        return undefined;
      }
      if (!Number.isInteger(value)) {
        this.error(loc, "int_from_float", "Input should be a valid integer, got a number with a fractional part", value);
        return undefined;
      }
      n = BigInt(value);
    } else if (typeof value === "string") {
      const t = value.trim();
      if (!/^[-+]?[0-9]+$/.test(t)) {
        this.error(loc, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", value);
        return undefined;
      }
      n = BigInt(t);
    } else {
      this.error(loc, "int_type", "Input should be a valid integer", value);
      return undefined;
    }
    const [min, max] = INT_BOUNDS[type] ?? [n, n];
    if (n < min) {
      this.error(loc, "greater_than_equal", `Input should be greater than or equal to ${min}`, value, { ge: Number(min) });
      return undefined;
    }
    if (n > max) {
      this.error(loc, "less_than_equal", `Input should be less than or equal to ${max}`, value, { le: Number(max) });
      return undefined;
    }
    return is64(type) ? n.toString() : Number(n);
  }

  private enumValue(desc: DescEnum, value: unknown, loc: Loc): JsonValue | undefined {
    if (typeof value === "string" && desc.values.some((v) => v.name === value)) return value;
    if (typeof value === "number" && Number.isInteger(value) && Math.abs(value) <= 2 ** 31) return value;
    const expected = expectedList(desc.values.map((v) => v.name));
    this.error(loc, "enum", `Input should be ${expected}`, value, { expected });
    return undefined;
  }

  private messageValue(desc: DescMessage, value: unknown, loc: Loc): JsonValue | undefined {
    if (!desc.typeName.startsWith("google.protobuf.")) return this.message(desc, value, loc);
    if (desc.typeName === "google.protobuf.Struct" && !isJsonObject(value)) {
      this.error(loc, "dict_type", "Input should be a valid dictionary", value);
      return undefined;
    }
    if (desc.typeName === "google.protobuf.ListValue" && !Array.isArray(value)) {
      this.error(loc, "list_type", "Input should be a valid list", value);
      return undefined;
    }
    // protobuf-es would assign a `__proto__` key as the prototype of the map it builds (the key is lost).
    const proto = findProtoKey(value);
    if (proto !== undefined) {
      this.error([...loc, ...proto], "value_error", "Value error, the key '__proto__' is not supported", value, {
        error: "unsupported key",
      });
      return undefined;
    }
    // JSON.parse turns 1e400 into Infinity; a google.protobuf.Value cannot hold it (encoding it back would fail).
    const infinite = findNonFinite(value);
    if (infinite !== undefined) {
      this.error([...loc, ...infinite], "finite_number", "Input should be a finite number", null);
      return undefined;
    }
    try {
      fromJson(desc, value as JsonValue, { registry: this.options.registry });
      return value as JsonValue;
    } catch (err) {
      this.error(loc, "value_error", `Value error, ${errorText(err)}`, value, { error: errorText(err) });
      return undefined;
    }
  }
}

/** The path of the first number that is not finite inside a JSON value, or undefined. */
function findNonFinite(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNonFinite(value[i], [...path, i]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = findNonFinite(v, [...path, k]);
    if (found !== undefined) return found;
  }
  return undefined;
}

function jsonOf(v: unknown): JsonValue {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (v === undefined) return null;
  return v as JsonValue;
}

function modelTypeMessage(schema: DescMessage, loc: Loc): string {
  return loc.length === 0
    ? "Input should be a valid dictionary or object to extract fields from"
    : `Input should be a valid dictionary or instance of ${schema.name}`;
}

/** toJson output → OpenEnv's shape: every field present, `null` for unset, safe 64-bit integers as numbers. */
function reshape(schema: DescMessage, json: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const field of schema.fields) {
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
