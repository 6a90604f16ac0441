import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Session } from "../../core/session.js";
import type { SessionManager } from "../../core/session-manager.js";
import { isJsonObject } from "../../protocol/json-object.js";
import type { EnvironmentSpec } from "../../server/environment.js";
import type { ServerMode } from "../../server/tools/define.js";
import { callToolInSession } from "../../server/tools/session-calls.js";
import { describeTools, toolsOf } from "../../server/tools/tool-environment.js";
import { fastMcpResultJson, mcpToolJson } from "../json/tools.js";
import { JsonRpcCode, jsonRpcError, openFailed } from "./json-rpc.js";

/**
 * `tools/list` and `tools/call` of OpenEnv's JSON-RPC endpoint for a tool
 * environment, answered as OpenEnv's server answers them for an
 * `MCPEnvironment`: the tools as the MCP SDK's Python `Tool.model_dump()`
 * (`inputSchema`, `outputSchema`, nulls included); a call's result as FastMCP's
 * `CallToolResult` (`structured_content`, `data`, `is_error`); a failed call
 * (unknown tool, invalid arguments, an error of the tool) as −32603 with the
 * message, as FastMCP's client raises it. A call is a step of the session
 * (`params.session_id`, or the WebSocket's); without one, a session is opened
 * for the call and closed after it.
 */

const unsupported = (id: JsonValue): JsonObject => jsonRpcError(id, JsonRpcCode.InternalError, "Environment does not support MCP");

/** `tools/list`: the tools available in the server's mode. */
export function toolsList(spec: EnvironmentSpec, id: JsonValue, mode: ServerMode): JsonObject {
  const tools = toolsOf(spec);
  if (tools === undefined) return unsupported(id);
  return { jsonrpc: "2.0", id, result: { tools: describeTools(tools, mode).map((t) => mcpToolJson(t, true)) } };
}

/** `tools/call`: `{name, arguments?}`. */
export async function toolsCall(
  manager: SessionManager,
  session: Session | undefined,
  params: Record<string, unknown>,
  id: JsonValue,
): Promise<JsonObject> {
  if (toolsOf(manager.factory.spec) === undefined) return unsupported(id);
  const name = params.name;
  if (typeof name !== "string" || name === "") return jsonRpcError(id, JsonRpcCode.InvalidParams, "Missing 'name' in params");
  const args = params.arguments ?? {};
  if (!isJsonObject(args)) return jsonRpcError(id, JsonRpcCode.InvalidParams, "Invalid params - 'arguments' must be an object");
  let target = session;
  if (target === undefined) {
    try {
      target = await manager.open();
    } catch (e) {
      return openFailed(manager, id, e);
    }
  }
  try {
    const { observation } = await callToolInSession(target, name, args as JsonObject);
    if (observation.error !== undefined) return jsonRpcError(id, JsonRpcCode.InternalError, observation.error.message);
    const result = observation.result;
    if (result === undefined) return jsonRpcError(id, JsonRpcCode.InternalError, `tool '${name}' returned no result`);
    if (result.isError) {
      // FastMCP's client raises a tool's own error with its text.
      const text = result.content.map((c) => c.text).join("\n");
      return jsonRpcError(id, JsonRpcCode.InternalError, text === "" ? `Error calling tool '${name}'` : text);
    }
    return { jsonrpc: "2.0", id, result: fastMcpResultJson(result) };
  } catch (e) {
    return jsonRpcError(id, JsonRpcCode.InternalError, ConnectError.from(e, Code.Internal).rawMessage);
  } finally {
    if (session === undefined) await target.close({ code: Code.NotFound, message: "stateless tools/call finished" });
  }
}
