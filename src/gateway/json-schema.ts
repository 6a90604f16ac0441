import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { isJsonObject } from "../protocol/json-object.js";

/**
 * Reading JSON Schema as Pydantic v2 writes it: local `$ref`s into `$defs`,
 * one-member `allOf`, union discriminators and `const` tags. No mapping
 * decisions here: these only say what a schema is.
 */

/** The `$defs` (or `definitions`) entry a local `$ref` names; undefined for any other kind of `$ref`. */
export function lookupDef(root: JsonObject, ref: string): { name: string; schema: JsonValue | undefined } | undefined {
  const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
  if (m === null) return undefined;
  const defs = root[m[1] as string];
  const name = decodePointer(m[2] as string);
  return { name, schema: isJsonObject(defs) ? defs[name] : undefined };
}

/** Follows a chain of `$ref`s to the schema it names (one level of `allOf` included). */
export function deref(root: JsonObject, schema: JsonObject, depth = 0): JsonObject {
  if (depth > 32) return schema;
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1 && isJsonObject(schema.allOf[0]))
    return deref(root, schema.allOf[0], depth + 1);
  if (typeof schema.$ref !== "string" || schema.$ref === "#") return schema;
  const def = lookupDef(root, schema.$ref)?.schema;
  return isJsonObject(def) ? def : schema;
}

/** A schema of an object with named properties, or of the empty object: one message. */
export function isObjectSchema(schema: JsonObject): boolean {
  const union = Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf);
  return isJsonObject(schema.properties) || (schema.type === "object" && !union && schema.additionalProperties === false);
}

/** The discriminator property of a union of objects: Pydantic's `discriminator`, or a property every member fixes with `const`. */
export function discriminatorOf(
  schema: JsonObject,
  members: readonly JsonObject[],
): { property: string; mapping: Record<string, string> } | undefined {
  const d = schema.discriminator;
  if (isJsonObject(d) && typeof d.propertyName === "string") {
    const mapping: Record<string, string> = {};
    if (isJsonObject(d.mapping)) for (const [k, v] of Object.entries(d.mapping)) if (typeof v === "string") mapping[k] = v;
    return { property: d.propertyName, mapping };
  }
  const objects = members.filter((m) => isJsonObject(m.properties));
  if (objects.length < 2) return undefined;
  const first = objects[0]?.properties as JsonObject;
  for (const key of Object.keys(first)) {
    const tags = objects.map((m) => constOf((m.properties as JsonObject)[key]));
    if (tags.every((t) => t.length > 0) && new Set(tags.flat()).size === tags.flat().length) return { property: key, mapping: {} };
  }
  return undefined;
}

/** The discriminator values that select `alt` (its mapping entries, or the `const` of its property). */
export function tagsOf(target: JsonObject, property: string, mapping: Record<string, string>, alt: JsonObject): string[] {
  const fromMapping = Object.entries(mapping)
    .filter(([, ref]) => ref === alt.$ref)
    .map(([k]) => k);
  if (fromMapping.length > 0) return fromMapping;
  const prop = isJsonObject(target.properties) ? target.properties[property] : undefined;
  return constOf(prop);
}

function constOf(schema: JsonValue | undefined): string[] {
  if (!isJsonObject(schema)) return [];
  if (typeof schema.const === "string") return [schema.const];
  if (Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === "string")) return schema.enum as string[];
  return [];
}

/** Key order does not change a schema: two `$defs` of one name are the same def when these agree. */
export function canonical(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isJsonObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k] as JsonValue)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function decodePointer(part: string): string {
  return part.replace(/~1/g, "/").replace(/~0/g, "~");
}
