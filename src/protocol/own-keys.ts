import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/**
 * Sets `obj[key] = value` as an own data property, whatever the key: `obj["__proto__"] = v`
 * would instead replace the object's prototype (and silently drop the key). Use it for
 * every key that comes from a client.
 */
export function setOwn(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

/** The path of the first `__proto__` key inside a JSON value (protobuf-es cannot hold one in a map or Struct), or undefined. */
export function findProtoKey(value: unknown, path: (string | number)[] = []): (string | number)[] | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findProtoKey(value[i], [...path, i]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k === "__proto__") return [...path, k];
    const found = findProtoKey(v, [...path, k]);
    if (found !== undefined) return found;
  }
  return undefined;
}
