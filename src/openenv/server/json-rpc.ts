import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ForwardedHeaders } from "../../core/placement.js";
import type { Session } from "../../core/session.js";
import type { SessionManager } from "../../core/session-manager.js";
import { findCapacity, findSessionLost } from "../../protocol/errors.js";
import { isJsonObject } from "../../protocol/json-object.js";
import type { ServerMode } from "../../server/tools/define.js";
import { literalError, missingField, type OpenEnvFieldError, pydanticText } from "../pydantic-errors.js";
import { toolsCall, toolsList } from "./json-rpc-tools.js";

/**
 * OpenEnv's MCP JSON-RPC endpoint (`POST /mcp`, `WS /mcp`, and `type: "mcp"`
 * frames on `/ws`): the session methods (`openenv/session/create|close`) and,
 * for a tool environment, `tools/list` and `tools/call` (json-rpc-tools.ts);
 * other environments answer the tool methods with −32603 "Environment does
 * not support MCP", as OpenEnv does.
 */

/** JSON-RPC error codes OpenEnv uses. */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  ServerError: -32000,
} as const;

/** Where a JSON-RPC request arrived. */
export interface JsonRpcCall {
  /** The session of the WebSocket the request came on (`/ws` `mcp` frames, `WS /mcp`). */
  readonly session?: Session;
  /** The request's headers, forwarded with it when another process owns the session (serveCluster). */
  readonly headers?: ForwardedHeaders;
}

/** `{"jsonrpc":"2.0","id":id,"error":{"code","message","data"}}`. */
export function jsonRpcError(id: JsonValue, code: number, message: string, data: JsonValue = null): JsonObject {
  return { jsonrpc: "2.0", id, error: { code, message, data } };
}

/** A JSON-RPC body that is not JSON: −32700. */
export function parseErrorResponse(detail?: string): JsonObject {
  return jsonRpcError(null, JsonRpcCode.ParseError, detail === undefined ? "Parse error" : `Parse error: ${detail}`);
}

/** Handles one parsed JSON-RPC request for this process's sessions and returns its response. Never throws. */
export async function handleJsonRpc(
  manager: SessionManager,
  body: unknown,
  ctx: JsonRpcCall,
  mode: ServerMode = "simulation",
): Promise<JsonObject> {
  const invalid = validateRequest(body);
  const rawId = isJsonObject(body) ? body.id : null;
  const id: JsonValue = typeof rawId === "string" || (typeof rawId === "number" && Number.isInteger(rawId)) ? rawId : null;
  if (invalid.length > 0) {
    return jsonRpcError(id, JsonRpcCode.InvalidRequest, `Invalid request: ${pydanticText("JsonRpcRequest", invalid)}`);
  }
  const req = body as { method: string; params?: Record<string, unknown> };
  const params = req.params ?? {};
  try {
    const sessionId = params.session_id;
    let session: Session | undefined = ctx.session;
    if (sessionId !== undefined && sessionId !== null && req.method !== "openenv/session/close") {
      const found = typeof sessionId === "string" ? manager.find(sessionId) : undefined;
      if (found === undefined) return unknownSession(manager, id, sessionId);
      session = found;
    }
    switch (req.method) {
      case "tools/list":
        return toolsList(manager.factory.spec, id, mode);
      case "tools/call":
        return await toolsCall(manager, session, params, id);
      case "openenv/session/create": {
        if (session !== undefined) return { jsonrpc: "2.0", id, result: { session_id: session.id } };
        try {
          const created = await manager.open();
          return { jsonrpc: "2.0", id, result: { session_id: created.id } };
        } catch (e) {
          return openFailed(manager, id, e);
        }
      }
      case "openenv/session/close": {
        if (sessionId === undefined || sessionId === null || sessionId === "") {
          return jsonRpcError(id, JsonRpcCode.InvalidParams, "Invalid params - 'session_id' is required");
        }
        const target = typeof sessionId === "string" ? manager.find(sessionId) : undefined;
        if (target === undefined) return unknownSession(manager, id, sessionId);
        if (target.attached || target === ctx.session) {
          return jsonRpcError(id, JsonRpcCode.InvalidRequest, "Cannot close active WebSocket-managed session via MCP method");
        }
        await target.close({ code: Code.NotFound, message: "closed by openenv/session/close" });
        return { jsonrpc: "2.0", id, result: { session_id: target.id, closed: true } };
      }
      default:
        return jsonRpcError(id, JsonRpcCode.MethodNotFound, `Method not found: ${req.method}`);
    }
  } catch (e) {
    return jsonRpcError(id, JsonRpcCode.InternalError, e instanceof ConnectError ? e.rawMessage : String(e));
  }
}

/** A failed session open as OpenEnv reports it: −32000 with the capacity or factory details. */
export function openFailed(manager: SessionManager, id: JsonValue, e: unknown): JsonObject {
  const err = ConnectError.from(e, Code.Internal);
  const capacity = findCapacity(err);
  if (capacity !== undefined) {
    return jsonRpcError(id, JsonRpcCode.ServerError, err.rawMessage, {
      active_sessions: capacity.activeSessions,
      max_sessions: capacity.maxSessions,
    });
  }
  if (isFactoryError(err)) {
    return jsonRpcError(id, JsonRpcCode.ServerError, err.rawMessage, { factory_name: manager.factory.spec.name });
  }
  return jsonRpcError(id, JsonRpcCode.ServerError, err.rawMessage);
}

/** OpenEnv's "Unknown session_id" (−32602), saying so when the session was lost with another replica. */
function unknownSession(manager: SessionManager, id: JsonValue, sessionId: unknown): JsonObject {
  const error = typeof sessionId === "string" ? manager.missing(sessionId) : undefined;
  const lost = error === undefined ? undefined : findSessionLost(error);
  if (error === undefined || lost === undefined)
    return jsonRpcError(id, JsonRpcCode.InvalidParams, `Unknown session_id: ${String(sessionId)}`);
  return jsonRpcError(id, JsonRpcCode.InvalidParams, `Unknown session_id: ${String(sessionId)} (${error.rawMessage})`, {
    session_lost: { session_id: lost.sessionId, holder: lost.holder },
  });
}

/** True for the session manager's "factory failed" error. */
export function isFactoryError(err: ConnectError): boolean {
  return err.code === Code.Internal && err.rawMessage.startsWith("Environment factory '");
}

/** `JsonRpcRequest`: `jsonrpc: Literal["2.0"]`, `method: str`, `params: dict = {}`, `id: str | int | None`, extra keys forbidden. */
function validateRequest(body: unknown): OpenEnvFieldError[] {
  if (!isJsonObject(body)) {
    return [
      {
        type: "model_type",
        loc: [],
        msg: "Input should be a valid dictionary or instance of JsonRpcRequest",
        input: body as JsonValue,
        ctx: { class_name: "JsonRpcRequest" },
      },
    ];
  }
  const errors: OpenEnvFieldError[] = [];
  const input = body as JsonObject;
  if (!Object.hasOwn(body, "jsonrpc")) errors.push(missingField(["jsonrpc"], input));
  else if (body.jsonrpc !== "2.0") errors.push(literalError(["jsonrpc"], ["2.0"], body.jsonrpc));
  if (!Object.hasOwn(body, "method")) errors.push(missingField(["method"], input));
  else if (typeof body.method !== "string")
    errors.push({ type: "string_type", loc: ["method"], msg: "Input should be a valid string", input: body.method as JsonValue });
  if (body.params !== undefined && !isJsonObject(body.params))
    errors.push({ type: "dict_type", loc: ["params"], msg: "Input should be a valid dictionary", input: body.params as JsonValue });
  const id = body.id;
  if (id !== undefined && id !== null && typeof id !== "string" && !(typeof id === "number" && Number.isInteger(id))) {
    errors.push({ type: "string_type", loc: ["id", "str"], msg: "Input should be a valid string", input: id as JsonValue });
    errors.push(
      typeof id === "number"
        ? {
            type: "int_from_float",
            loc: ["id", "int"],
            msg: "Input should be a valid integer, got a number with a fractional part",
            input: id,
          }
        : { type: "int_type", loc: ["id", "int"], msg: "Input should be a valid integer", input: id as JsonValue },
    );
  }
  for (const key of Object.keys(body)) {
    if (!["jsonrpc", "method", "params", "id"].includes(key)) {
      errors.push({ type: "extra_forbidden", loc: [key], msg: "Extra inputs are not permitted", input: body[key] as JsonValue });
    }
  }
  return errors;
}
