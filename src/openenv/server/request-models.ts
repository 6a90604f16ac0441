import type { JsonObject } from "@bufbuild/protobuf";
import { isJsonObject } from "../../protocol/json-object.js";
import { setOwn } from "../../protocol/own-keys.js";
import { fieldError as err, type Loc, missingField, type OpenEnvFieldError } from "../pydantic-errors.js";

/**
 * OpenEnv's request envelopes (`ResetRequest`, `StepRequest` and the WebSocket
 * message models), validated with the Pydantic error types OpenEnv reports.
 */

/** Reset parameters from a `/reset` body or a WebSocket `reset` frame's `data`. */
export interface ResetKwargs {
  readonly seed: bigint | undefined;
  readonly episodeId: string | undefined;
  /** Every other key: OpenEnv forwards them to `reset(**kwargs)`, we to `ResetOptions.options`. */
  readonly options: JsonObject;
}

/** The `/step` body minus the action. */
export interface StepEnvelope {
  readonly action: Record<string, unknown>;
  readonly timeoutMs: number | undefined;
  readonly requestId: string | undefined;
}

/** A parse result: the value or every error found. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errors: OpenEnvFieldError[] };

const UINT64_MAX = 2n ** 64n - 1n;
const MAX_ID_CHARS = 255;

/** `seed: Optional[int] = Field(ge=0)`, `episode_id: Optional[str] = Field(max_length=255)`, extra keys allowed. */
export function parseResetKwargs(data: Record<string, unknown>, prefix: Loc): Parsed<ResetKwargs> {
  const errors: OpenEnvFieldError[] = [];
  let seed: bigint | undefined;
  let episodeId: string | undefined;
  const options: JsonObject = {};
  for (const [key, value] of Object.entries(data)) {
    const loc = [...prefix, key];
    if (key === "seed") {
      if (value === null) continue;
      const n = parseInteger(value, loc, errors);
      if (n === undefined) continue;
      if (n < 0n) errors.push(err(loc, "greater_than_equal", "Input should be greater than or equal to 0", value, { ge: 0 }));
      else if (n > UINT64_MAX)
        errors.push(err(loc, "less_than_equal", `Input should be less than or equal to ${UINT64_MAX}`, value, { le: Number(UINT64_MAX) }));
      else seed = n;
    } else if (key === "episode_id") {
      if (value === null) continue;
      const s = parseId(value, loc, errors);
      if (s !== undefined) episodeId = s;
    } else {
      setOwn(options, key, value as JsonObject[string]);
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: { seed, episodeId, options } };
}

/** FastAPI's validation of a `/reset` body (optional; an object when given). */
export function parseResetBody(body: unknown): Parsed<ResetKwargs> {
  if (body === undefined || body === null) return { ok: true, value: { seed: undefined, episodeId: undefined, options: {} } };
  if (!isJsonObject(body)) {
    return {
      ok: false,
      errors: [err(["body"], "model_attributes_type", "Input should be a valid dictionary or object to extract fields from", body)],
    };
  }
  return parseResetKwargs(body, ["body"]);
}

/** FastAPI's validation of a `/step` body: `action` required, `timeout_s > 0`, `request_id` up to 255 characters. */
export function parseStepBody(body: unknown): Parsed<StepEnvelope> {
  if (body === undefined) return { ok: false, errors: [err(["body"], "missing", "Field required", null)] };
  if (!isJsonObject(body)) {
    return {
      ok: false,
      errors: [err(["body"], "model_attributes_type", "Input should be a valid dictionary or object to extract fields from", body)],
    };
  }
  const errors: OpenEnvFieldError[] = [];
  const action = body.action;
  if (!Object.hasOwn(body, "action")) errors.push(err(["body", "action"], "missing", "Field required", body));
  else if (!isJsonObject(action)) errors.push(err(["body", "action"], "dict_type", "Input should be a valid dictionary", action));
  let timeoutMs: number | undefined;
  const t = body.timeout_s;
  if (t !== undefined && t !== null) {
    const loc = ["body", "timeout_s"];
    const n = typeof t === "number" ? t : typeof t === "string" && t.trim() !== "" ? Number(t) : Number.NaN;
    if (typeof t !== "number" && typeof t !== "string") errors.push(err(loc, "float_type", "Input should be a valid number", t));
    else if (Number.isNaN(n))
      errors.push(err(loc, "float_parsing", "Input should be a valid number, unable to parse string as a number", t));
    // JSON.parse reads 1e400 as Infinity: a deadline that never comes is refused, as Pydantic does without allow_inf_nan.
    else if (!Number.isFinite(n)) errors.push(err(loc, "finite_number", "Input should be a finite number", t));
    else if (!(n > 0)) errors.push(err(loc, "greater_than", "Input should be greater than 0", t, { gt: 0 }));
    else timeoutMs = n * 1000;
  }
  let requestId: string | undefined;
  const r = body.request_id;
  if (r !== undefined && r !== null) requestId = parseId(r, ["body", "request_id"], errors);
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, value: { action: action as Record<string, unknown>, timeoutMs, requestId } };
}

/** Keys a WebSocket message model allows (`extra="forbid"`): one `extra_forbidden` error per other key. */
/** The keys of OpenEnv's WebSocket message models. */
export const ENVELOPE_KEYS: readonly string[] = ["type", "data"];
/** With `?extensions=1`, a frame may also carry a `request_id`: a frame re-sent after a resume is answered, not applied twice. */
export const EXTENDED_ENVELOPE_KEYS: readonly string[] = ["type", "data", "request_id"];

export function extraKeys(message: Record<string, unknown>, allowed: readonly string[]): OpenEnvFieldError[] {
  return Object.keys(message)
    .filter((k) => !allowed.includes(k))
    .map((k) => err([k], "extra_forbidden", "Extra inputs are not permitted", message[k]));
}

function parseInteger(value: unknown, loc: Loc, errors: OpenEnvFieldError[]): bigint | undefined {
  if (typeof value === "number") {
    if (Number.isInteger(value)) return BigInt(value);
    errors.push(
      Number.isFinite(value)
        ? err(loc, "int_from_float", "Input should be a valid integer, got a number with a fractional part", value)
        : err(loc, "finite_number", "Input should be a finite number", value),
    );
    return undefined;
  }
  if (typeof value === "string") {
    const t = value.trim();
    if (/^[-+]?[0-9]+$/.test(t)) return BigInt(t);
    errors.push(err(loc, "int_parsing", "Input should be a valid integer, unable to parse string as an integer", value));
    return undefined;
  }
  errors.push(err(loc, "int_type", "Input should be a valid integer", value));
  return undefined;
}

function parseId(value: unknown, loc: Loc, errors: OpenEnvFieldError[]): string | undefined {
  if (typeof value !== "string") {
    errors.push(err(loc, "string_type", "Input should be a valid string", value));
    return undefined;
  }
  if ([...value].length > MAX_ID_CHARS) {
    errors.push(err(loc, "string_too_long", `String should have at most ${MAX_ID_CHARS} characters`, value, { max_length: MAX_ID_CHARS }));
    return undefined;
  }
  return value;
}

/** A WebSocket frame's `data` that is not an object. */
export function dataTypeError(input: unknown): OpenEnvFieldError {
  return { type: "dict_type", loc: ["data"], msg: "Input should be a valid dictionary", input: input as JsonObject };
}

/** Errors of a `{type, data}` frame whose `data` must be an object (Pydantic's order: missing/type first, then extra keys). */
export function envelopeWithDataErrors(message: Record<string, unknown>, allowed: readonly string[] = ENVELOPE_KEYS): OpenEnvFieldError[] {
  const errors = extraKeys(message, allowed);
  if (!Object.hasOwn(message, "data")) {
    errors.unshift(missingField(["data"], message));
  } else if (!isJsonObject(message.data)) {
    errors.unshift(dataTypeError(message.data));
  }
  return errors;
}
