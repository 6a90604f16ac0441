import { type DescMessage, fromJson, type JsonValue, type MessageShape, type Registry } from "@bufbuild/protobuf";
import { validateMessage } from "../../protocol/validate.js";
import type { OpenEnvFieldError } from "../pydantic-errors.js";
import { decodeToolJson, isToolMessage } from "./tools.js";
import { errorText, Walker } from "./walker.js";

/**
 * Decodes OpenEnv's JSON form of protobuf messages (Pydantic `model_dump()`
 * output: snake_case names, unset fields as `null`, integers as JSON numbers),
 * reporting every problem at once in Pydantic's error shape (`type`, `loc`,
 * `msg`, `input`, `ctx`) so OpenEnv clients see the errors they know. It also
 * accepts what proto JSON accepts: lowerCamelCase names, integers as strings,
 * enum numbers, `null` for "unset".
 */

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

/** Decodes OpenEnv JSON into a message of `schema`, validating types, unknown keys and field rules. */
export function decodeOpenEnvJson<D extends DescMessage>(
  schema: D,
  json: unknown,
  options: OpenEnvDecodeOptions = {},
): OpenEnvDecodeResult<MessageShape<D>> {
  if (isToolMessage(schema)) return decodeToolJson(schema, json, options.registry) as OpenEnvDecodeResult<MessageShape<D>>;
  // Most input is valid: a quick walk that keeps no bookkeeping settles it; only input
  // with an error is walked again, recording what Pydantic-shaped errors need.
  const quick = new Walker(options, false);
  const canonical = quick.message(schema, json, []);
  if (!quick.failed && canonical !== undefined) {
    try {
      const message = fromJson(schema, canonical, { registry: options.registry });
      if (options.rules === false || validateMessage(schema, message).length === 0) return { ok: true, message };
    } catch {
      // reported by the detailed walk
    }
  }
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
