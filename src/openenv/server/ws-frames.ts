import type { JsonObject } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import type { RawData } from "ws";
import { findCapacity, findSessionLost } from "../../protocol/errors.js";
import { isFactoryError, JsonRpcCode, jsonRpcError } from "./json-rpc.js";
import { statusOf } from "./result-json.js";

/** OpenEnv's error frame on `/ws`. */
export function errorFrame(message: string, code: string, extra: JsonObject = {}): JsonObject {
  return { type: "error", data: { message, code, ...extra } };
}

/** The frame of a reset, step or state that failed (with `?extensions=1`, its Connect status too). */
export function executionErrorFrame(err: ConnectError, extensions: boolean): string {
  return JSON.stringify({
    type: "error",
    data: { message: err.rawMessage, code: "EXECUTION_ERROR", ...(extensions ? { status: statusOf(err) } : {}) },
  });
}

/** The one frame sent when the connection cannot get its session (before the socket closes), as OpenEnv words it. */
export function setupErrorFrame(kind: "ws" | "mcp", err: ConnectError, factoryName: string): JsonObject {
  const capacity = findCapacity(err);
  if (kind === "mcp") {
    const data: JsonObject | null =
      capacity !== undefined
        ? { active_sessions: capacity.activeSessions, max_sessions: capacity.maxSessions }
        : isFactoryError(err)
          ? { factory_name: factoryName }
          : null;
    return jsonRpcError(null, JsonRpcCode.ServerError, err.rawMessage, data);
  }
  if (capacity !== undefined) {
    return errorFrame(err.rawMessage, "CAPACITY_REACHED", {
      active_sessions: capacity.activeSessions,
      max_sessions: capacity.maxSessions,
    });
  }
  if (isFactoryError(err)) return errorFrame(err.rawMessage, "FACTORY_ERROR", { factory_name: factoryName });
  if (err.code === Code.NotFound) {
    // Only a resume (`?session_id=`) names a session: it is unknown here, or was lost with its replica.
    const lost = findSessionLost(err);
    if (lost === undefined) return errorFrame(err.rawMessage, "SESSION_NOT_FOUND");
    return errorFrame(err.rawMessage, "SESSION_LOST", { session_lost: { session_id: lost.sessionId, holder: lost.holder } });
  }
  return errorFrame(err.rawMessage, "SESSION_ERROR");
}

export function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return data.toString("utf8");
}

/** A close reason is at most 123 bytes of UTF-8. */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let out = reason;
  while (Buffer.byteLength(out) > 120) out = out.slice(0, -1);
  return `${out}...`;
}
