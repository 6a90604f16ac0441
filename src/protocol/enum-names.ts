import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";

/**
 * Enum values by name, as proto JSON spells them (`"DIRECTION_RIGHT"`), in the
 * places that take plain objects rather than JSON: `AutoAction` classes and
 * untyped `EnvClient` actions. Errors name the field and list the values.
 */

/** The names a user may pick, in declaration order; the zero `*_UNSPECIFIED` placeholder is left out. */
export function enumValueNames(e: DescEnum): string[] {
  return e.values.filter((v) => !(v.number === 0 && v.name.endsWith("_UNSPECIFIED"))).map((v) => v.name);
}

/** `direction: 'SIDEWAYS' is not a value of openenv.envs.maze.v1.Direction; use one of DIRECTION_UP, ...` */
export function enumValueMessage(path: string, value: unknown, e: DescEnum): string {
  const shown = typeof value === "string" ? `'${value}'` : JSON.stringify(value);
  return `${path}: ${shown} is not a value of ${e.typeName}; use one of ${enumValueNames(e).join(", ")} (or its number)`;
}

/** The number of an enum value given by name or number; undefined when it is neither. */
export function enumNumber(e: DescEnum, value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value === "string") return e.values.find((v) => v.name === value)?.number;
  return undefined;
}

const hasEnumsCache = new WeakMap<DescMessage, boolean>();

/** True when the message has an enum field anywhere inside it (checked once per schema). */
export function hasEnumFields(schema: DescMessage, seen: Set<DescMessage> = new Set()): boolean {
  const cached = hasEnumsCache.get(schema);
  if (cached !== undefined) return cached;
  if (seen.has(schema)) return false;
  seen.add(schema);
  const found = schema.fields.some((f) => enumOf(f) !== undefined || (messageOf(f) !== undefined && hasEnumFields(messageOf(f)!, seen)));
  hasEnumsCache.set(schema, found);
  return found;
}

/**
 * A copy of a plain init object of `schema` whose enum fields given by name hold
 * their numbers, in nested messages, lists and maps too. Keys may be the proto,
 * JSON or local field names. Throws a `TypeError` naming the field and listing
 * the values for a name that is not one.
 */
export function enumNamesToNumbers(schema: DescMessage, init: Record<string, unknown>, path = ""): Record<string, unknown> {
  const out: Record<string, unknown> = { ...init };
  for (const [key, value] of Object.entries(init)) {
    const field = schema.fields.find((f) => f.localName === key || f.name === key || f.jsonName === key);
    if (field === undefined || value === undefined || value === null) continue;
    const where = path === "" ? field.name : `${path}.${field.name}`;
    out[key] = convert(field, value, where);
  }
  return out;
}

function convert(field: DescField, value: unknown, where: string): unknown {
  const single = (v: unknown, at: string): unknown => {
    const e = enumOf(field);
    if (e !== undefined) {
      if (typeof v === "number" && Number.isInteger(v)) return v;
      const n = enumNumber(e, v);
      if (n === undefined) throw new TypeError(enumValueMessage(at, v, e));
      return n;
    }
    const m = messageOf(field);
    if (m !== undefined && isPlainObject(v) && hasEnumFields(m)) return enumNamesToNumbers(m, v, at);
    return v;
  };
  if (field.fieldKind === "list" && Array.isArray(value)) return value.map((v, i) => single(v, `${where}[${i}]`));
  if (field.fieldKind === "map" && isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, single(v, `${where}["${k}"]`)]));
  }
  return single(value, where);
}

function enumOf(f: DescField): DescEnum | undefined {
  if (f.fieldKind === "enum") return f.enum;
  if (f.fieldKind === "list" && f.listKind === "enum") return f.enum;
  if (f.fieldKind === "map" && f.mapKind === "enum") return f.enum;
  return undefined;
}

function messageOf(f: DescField): DescMessage | undefined {
  if (f.fieldKind === "message") return f.message;
  if (f.fieldKind === "list" && f.listKind === "message") return f.message;
  if (f.fieldKind === "map" && f.mapKind === "message") return f.message;
  return undefined;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !("$typeName" in v);
}

/**
 * The first enum value in a JSON object of `schema` that proto JSON would not
 * accept, as a message naming the field and listing the values; undefined when
 * there is none. Lets the CLI say more than the JSON parser does.
 */
export function enumJsonProblem(schema: DescMessage, json: unknown, path = ""): string | undefined {
  if (!isPlainObject(json)) return undefined;
  try {
    enumNamesToNumbers(schema, json, path);
    return undefined;
  } catch (err) {
    return err instanceof TypeError ? err.message : undefined;
  }
}
