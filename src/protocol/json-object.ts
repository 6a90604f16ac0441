import type { JsonObject } from "@bufbuild/protobuf";

/** Whether a parsed JSON value (or anything) is an object: not null, not an array. */
export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
