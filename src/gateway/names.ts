import type { Shape } from "./proto-model.js";

/**
 * Proto names from JSON names: every name the generator writes passes buf lint
 * (lower_snake_case fields, PascalCase messages and enums, UPPER_SNAKE_CASE
 * enum values), whatever the JSON Schema called things.
 */

/** Words of a name: splits on non-alphanumerics, camelCase humps and letter/digit boundaries. */
function words(name: string): string[] {
  return name
    .normalize("NFKD")
    .replace(/[^\x20-\x7e]/g, "")
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0);
}

/** `tool_name`, `toolName`, `Tool Name` → `tool_name`; never empty, never starting with a digit. */
export function snakeCase(name: string, fallback = "field"): string {
  const out = words(name)
    .map((w) => w.toLowerCase())
    .join("_");
  if (out === "") return fallback;
  return /^[0-9]/.test(out) ? `${fallback}_${out}` : out;
}

/** `tool_name`, `ToolError`, `obs-type` → `ToolName`, `ToolError`, `ObsType`. */
export function pascalCase(name: string, fallback = "Message"): string {
  const out = words(name)
    .map((w) => (w === w.toUpperCase() && w.length > 1 && !/[0-9]/.test(w) ? w[0] + w.slice(1).toLowerCase() : w))
    .map((w) => w[0]?.toUpperCase() + w.slice(1))
    .join("");
  if (out === "") return fallback;
  return /^[0-9]/.test(out) ? `${fallback}${out}` : out;
}

/** `ToolErrorType` → `TOOL_ERROR_TYPE`; `execution_error` → `EXECUTION_ERROR`. */
export function upperSnakeCase(name: string): string {
  return words(name)
    .map((w) => w.toUpperCase())
    .join("_");
}

/** protoc's json_name: `foo_bar` → `fooBar` (underscores dropped, the next letter capitalised). */
export function jsonNameOf(protoName: string): string {
  let out = "";
  let upper = false;
  for (const c of protoName) {
    if (c === "_") {
      upper = true;
      continue;
    }
    out += upper ? c.toUpperCase() : c;
    upper = false;
  }
  return out;
}

/** Hands out names unique within one scope, suffixing `_2`, `_3`... (or `2`, `3` for type names). */
export class NameScope {
  private readonly used = new Set<string>();

  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.used.add(r);
  }

  has(name: string): boolean {
    return this.used.has(name);
  }

  /** Claims `name`, or the first free variant of it. */
  claim(name: string, separator = "_"): string {
    let candidate = name;
    for (let i = 2; this.used.has(candidate); i++) candidate = `${name}${separator}${i}`;
    this.used.add(candidate);
    return candidate;
  }
}

/** A readable name of a shape, e.g. `Int64`, `ToolError`, `Int64List`, `StringMap`. */
export function shapeName(shape: Shape): string {
  switch (shape.kind) {
    case "scalar":
      return pascalCase(shape.scalar);
    case "enum":
      return shape.enum.name;
    case "message":
      return shape.message.name;
    case "struct":
      return "Struct";
    case "value":
      return "Value";
    case "const":
      return "String";
    case "list":
      return `${shapeName(shape.item)}List`;
    case "map":
      return `${shapeName(shape.value)}Map`;
  }
}

/** `X_UNSPECIFIED` first and every value `X_...`: the values are proto enum names already. */
export function protoStylePrefix(values: readonly string[]): string | undefined {
  const first = values[0];
  const m = first === undefined ? null : /^([A-Z][A-Z0-9_]*)_UNSPECIFIED$/.exec(first);
  if (m === null) return undefined;
  const prefix = m[1] as string;
  return values.every((v) => /^[A-Z][A-Z0-9_]*$/.test(v) && v.startsWith(`${prefix}_`)) && new Set(values).size === values.length
    ? prefix
    : undefined;
}

/** The enum value name for a JSON string, before collisions: never empty, never a digit first, never `_UNSPECIFIED`. */
export function enumValueName(prefix: string, json: string): string {
  let word = upperSnakeCase(json);
  if (word === "") word = json === "" ? "EMPTY" : "VALUE";
  if (/^[0-9]/.test(word)) word = `V${word}`;
  if (word === "UNSPECIFIED") word = "UNSPECIFIED_VALUE";
  return `${prefix}_${word}`;
}
