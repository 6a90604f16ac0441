import { type DescField, ScalarType } from "@bufbuild/protobuf";
import { isJsonObject } from "../../protocol/json-object.js";
import type { FieldViolation } from "../../protocol/validate.js";
import { fieldError, literalError, missingField, type OpenEnvFieldError, pythonNumber } from "../pydantic-errors.js";
import { isIntegral, jsonOf } from "./values.js";

/**
 * A broken field rule (`(openenv.v1.rules)`) as the Pydantic error OpenEnv
 * reports for the same constraint, e.g. `max_len` on a string is
 * `string_too_long`, "String should have at most 8 characters".
 */
export function ruleError(v: FieldViolation, present: unknown, field: DescField | undefined, parent: unknown): OpenEnvFieldError {
  const integral = field !== undefined && isIntegral(field);
  // An absent field breaks a rule with its default value (proto3 cannot tell them apart).
  const input = present === undefined || present === null ? jsonOf(v.value) : present;
  switch (v.rule) {
    case "required": {
      if (present === undefined || present === null) {
        return missingField(v.loc, parent ?? {});
      } else {
        return fieldError(v.loc, "value_error", "Value error, value is required", input, { error: "value is required" });
      }
    }
    case "min_len":
    case "max_len": {
      const limit = v.limit as number;
      const min = v.rule === "min_len";
      const plural = limit === 1 ? "" : "s";
      if (field?.fieldKind === "scalar") {
        const [kind, what, unit] = field.scalar === ScalarType.STRING ? ["string", "String", "character"] : ["bytes", "Data", "byte"];
        return fieldError(
          v.loc,
          `${kind}_too_${min ? "short" : "long"}`,
          `${what} should have ${min ? "at least" : "at most"} ${limit} ${unit}${plural}`,
          input,
          min ? { min_length: limit } : { max_length: limit },
        );
      } else {
        const fieldType = field?.fieldKind === "map" ? "Dictionary" : "List";
        const actual = Array.isArray(present) ? present.length : isJsonObject(present) ? Object.keys(present).length : 0;
        return fieldError(
          v.loc,
          min ? "too_short" : "too_long",
          `${fieldType} should have ${min ? "at least" : "at most"} ${limit} item${plural} after validation, not ${actual}`,
          input,
          min
            ? { field_type: fieldType, min_length: limit, actual_length: actual }
            : { field_type: fieldType, max_length: limit, actual_length: actual },
        );
      }
    }
    case "gte":
    case "lte": {
      const ge = v.rule === "gte";
      const limit = v.limit as number;
      return fieldError(
        v.loc,
        ge ? "greater_than_equal" : "less_than_equal",
        `Input should be ${ge ? "greater" : "less"} than or equal to ${pythonNumber(limit, integral)}`,
        input,
        ge ? { ge: limit } : { le: limit },
      );
    }
    case "pattern":
      return fieldError(v.loc, "string_pattern_mismatch", `String should match pattern '${v.limit as string}'`, input, {
        pattern: v.limit as string,
      });
    case "allowed":
      return literalError(v.loc, v.limit as readonly string[], input);
  }
}
