import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, codeFromString } from "@connectrpc/connect/protocol-connect";
import { capacityError, sessionLostError, validationError } from "../../protocol/errors.js";
import { isJsonObject } from "../../protocol/json-object.js";
import type { FieldViolation } from "../../protocol/validate.js";

/**
 * OpenEnv's error replies (WebSocket `error` frames, HTTP 422/500 bodies) as
 * ConnectErrors, so a client sees the same codes and details whichever
 * transport it uses: VALIDATION_ERROR → INVALID_ARGUMENT with field
 * violations, CAPACITY_REACHED → RESOURCE_EXHAUSTED with the capacity detail.
 */

/** Pydantic's `loc` as a field path: `moves[2].column`. */
export function locPath(loc: readonly JsonValue[]): string {
  let out = "";
  for (const part of loc) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** Pydantic errors → field violations (`rule` = the Pydantic type, e.g. `string_too_long`). */
export function violationsOf(errors: unknown): FieldViolation[] {
  if (!Array.isArray(errors)) return [];
  return errors.filter(isJsonObject).map((e) => {
    const loc = Array.isArray(e.loc) ? (e.loc as (string | number)[]) : [];
    return {
      field: locPath(loc),
      loc,
      rule: String(e.type ?? "invalid") as FieldViolation["rule"],
      description: String(e.msg ?? "invalid"),
      value: e.input,
    };
  });
}

/** A WebSocket `error` frame's `data` as a ConnectError. */
export function fromErrorFrame(data: unknown): ConnectError {
  const d = isJsonObject(data) ? data : {};
  const message = typeof d.message === "string" ? d.message : "the server sent an error";
  switch (d.code) {
    case "VALIDATION_ERROR": {
      const violations = violationsOf(d.errors);
      const envelope = violations.some((v) => v.loc[0] === "data" || v.loc[0] === "type");
      return validationError(envelope ? "message" : "action", violations);
    }
    case "CAPACITY_REACHED":
      return capacityError({ activeSessions: Number(d.active_sessions ?? 0), maxSessions: Number(d.max_sessions ?? 0) });
    case "EXECUTION_ERROR":
      return new ConnectError(message, typeof d.status === "string" ? (codeFromString(d.status) ?? Code.Unknown) : Code.Unknown);
    case "INVALID_JSON":
    case "UNKNOWN_TYPE":
      return new ConnectError(`the server rejected the client's frame: ${message}`, Code.Internal);
    case "FACTORY_ERROR":
      return new ConnectError(message, Code.Internal);
    case "SESSION_LOST":
    case "SESSION_NOT_FOUND":
      return notFound(message, d.session_lost);
    default:
      return new ConnectError(message, Code.Unavailable);
  }
}

/** An HTTP error response of an OpenEnv route as a ConnectError. */
export function fromHttpError(status: number, body: unknown): ConnectError {
  const b = isJsonObject(body) ? body : {};
  if (status === 422 && Array.isArray(b.detail)) {
    const violations = violationsOf(b.detail);
    return validationError(violations.some((v) => v.loc[0] === "body") ? "request" : "action", violations);
  }
  if (b.max_sessions !== undefined) {
    return capacityError({ activeSessions: Number(b.active_sessions ?? 0), maxSessions: Number(b.max_sessions) });
  }
  const message = typeof b.detail === "string" ? b.detail : typeof body === "string" && body !== "" ? body : `HTTP ${status}`;
  if (b.session_lost !== undefined) return notFound(message, b.session_lost);
  const code = typeof b.code === "string" ? codeFromString(b.code) : undefined;
  return new ConnectError(message, code ?? codeFromHttpStatus(status));
}

/** NOT_FOUND, with the `SessionLost` detail when the server said the session was lost with its replica. */
function notFound(message: string, lost: unknown): ConnectError {
  if (!isJsonObject(lost)) return new ConnectError(message, Code.NotFound);
  return sessionLostError({ sessionId: String(lost.session_id ?? ""), holder: String(lost.holder ?? "") }, message);
}
