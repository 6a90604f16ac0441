import { type DescField, type JsonValue, ScalarType } from "@bufbuild/protobuf";
import type { Loc } from "../pydantic-errors.js";

/** Values of JSON input and of protobuf fields: integer ranges, and what protobuf-es cannot hold. */

/** The range of each protobuf integer type. */
export const INT_BOUNDS: Partial<Record<ScalarType, readonly [bigint, bigint]>> = {
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

/** True for the 64-bit integer types (proto JSON writes them as strings). */
export const is64 = (t: ScalarType): boolean =>
  t === ScalarType.INT64 || t === ScalarType.UINT64 || t === ScalarType.SINT64 || t === ScalarType.FIXED64 || t === ScalarType.SFIXED64;

/** True for scalar types whose rule bounds print as integers. */
export function isIntegral(field: DescField): boolean {
  const t = field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") ? field.scalar : undefined;
  return t !== undefined && INT_BOUNDS[t] !== undefined;
}

/** A field value as JSON (for error inputs): 64-bit integers as numbers while exact, bytes as base64. */
export function jsonOf(v: unknown): JsonValue {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (v === undefined) return null;
  return v as JsonValue;
}

/** Where a JSON value holds what protobuf-es cannot take: a `__proto__` key, or a number that is not finite. */
export function findUnsupported(value: unknown, path: Loc = []): { readonly path: Loc; readonly infinite: boolean } | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : { path, infinite: true };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnsupported(value[i], [...path, i]);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (k === "__proto__") return { path: [...path, k], infinite: false };
    const found = findUnsupported(v, [...path, k]);
    if (found !== undefined) return found;
  }
  return undefined;
}
