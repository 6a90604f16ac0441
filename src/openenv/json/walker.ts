import { type DescEnum, type DescField, type DescMessage, fromJson, type JsonObject, type JsonValue, ScalarType } from "@bufbuild/protobuf";
import { isJsonObject } from "../../protocol/json-object.js";
import type { FieldViolation } from "../../protocol/validate.js";
import { expectedList, type Loc, type OpenEnvFieldError } from "../pydantic-errors.js";
import type { OpenEnvDecodeOptions } from "./decode.js";
import { ruleError } from "./rule-errors.js";
import { findUnsupported, INT_BOUNDS, is64 } from "./values.js";

const keyOf = (loc: Loc): string => JSON.stringify(loc);

/** The message of an exception, for `value_error`s. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

interface Pending {
  readonly error: OpenEnvFieldError;
  readonly order: number;
}

/** Walks OpenEnv JSON along a schema: collects errors in Pydantic's order and builds canonical proto JSON. */
export class Walker {
  private readonly pending: Pending[] = [];
  private readonly order = new Map<string, number>();
  private readonly raw = new Map<string, unknown>();
  private readonly fieldOf = new Map<string, DescField>();
  /** Locations whose value could not be decoded: their field rules are not checked. */
  private readonly decodeErrors = new Set<string>();
  private counter = 0;

  /** Set when an error was found (the only record a quick walk keeps). */
  failed = false;

  /**
   * @param detailed record every location, so errors can be sorted in Pydantic's order and
   *   rule violations can quote their input; a quick walk (false) only finds out whether there is an error.
   */
  constructor(
    private readonly options: OpenEnvDecodeOptions,
    private readonly detailed = true,
  ) {}

  /** The location of a child: a quick walk does not build locations. */
  private at(loc: Loc, key: string | number): Loc {
    return this.detailed ? [...loc, key] : loc;
  }

  private visit(loc: Loc, value: unknown, field?: DescField): void {
    if (!this.detailed) return;
    const key = keyOf(loc);
    if (!this.order.has(key)) this.order.set(key, this.counter++);
    this.raw.set(key, value);
    if (field !== undefined) this.fieldOf.set(key, field);
  }

  error(loc: Loc, type: string, msg: string, input: unknown, ctx?: JsonObject): void {
    this.failed = true;
    if (!this.detailed) return;
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
    const e = ruleError(v, this.raw.get(key), this.fieldOf.get(key), this.raw.get(keyOf(v.loc.slice(0, -1))));
    this.push(v.loc, e.type, e.msg, e.input, e.ctx);
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
      const floc = this.at(loc, field.name);
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
      const floc = this.at(loc, key);
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
          const iloc = this.at(loc, i);
          this.visit(iloc, item, field);
          const v = this.element(field, item, iloc);
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
          const kloc = this.at(loc, k);
          this.visit(kloc, item);
          if (!this.mapKey(field.mapKey, k, [...loc, `${k}`, "[key]"])) continue;
          if (k === "__proto__") {
            this.error(kloc, "value_error", "Value error, the key '__proto__' is not supported", item, { error: "unsupported key" });
            continue;
          }
          const v = this.element(field, item, kloc);
          if (v !== undefined) out[k] = v;
        }
        return out;
      }
    }
  }

  /** An element of a list or a value of a map. */
  private element(field: DescField & { fieldKind: "list" | "map" }, item: unknown, loc: Loc): JsonValue | undefined {
    const kind = field.fieldKind === "list" ? field.listKind : field.mapKind;
    if (kind === "scalar") return this.scalar(field.scalar as ScalarType, item, loc);
    if (kind === "enum") return this.enumValue(field.enum as DescEnum, item, loc);
    return this.messageValue(field.message as DescMessage, item, loc);
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
    const bad = findUnsupported(value);
    if (bad?.infinite === true) {
      // JSON.parse turns 1e400 into Infinity; a google.protobuf.Value cannot hold it (encoding it back would fail).
      this.error([...loc, ...bad.path], "finite_number", "Input should be a finite number", null);
      return undefined;
    }
    if (bad !== undefined) {
      // protobuf-es would assign a `__proto__` key as the prototype of the map it builds (the key is lost).
      this.error([...loc, ...bad.path], "value_error", "Value error, the key '__proto__' is not supported", value, {
        error: "unsupported key",
      });
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

function modelTypeMessage(schema: DescMessage, loc: Loc): string {
  return loc.length === 0
    ? "Input should be a valid dictionary or object to extract fields from"
    : `Input should be a valid dictionary or instance of ${schema.name}`;
}
