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
