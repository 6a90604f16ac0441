import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpEchoEnvironment } from "../../src/envs/mcp_echo/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/index.js";
import { recorded } from "../fixtures/openenv-recorded.js";
import { recordedMcp } from "../fixtures/openenv-recorded-mcp.js";
import { RawWs } from "../fixtures/raw-ws.js";

/** A result without the top-level `metadata` key OpenEnv added after the recordings (it comes last); the rest byte for byte. */
function withoutMetadata(text: string): string {
  const at = text.lastIndexOf(',"metadata":');
  if (at < 0) return text;
  const closing = text.startsWith('{"type":') ? "}}" : "}";
  expect(text.endsWith(closing)).toBe(true);
  expect(typeof JSON.parse(text.slice(at + ',"metadata":'.length, -closing.length))).toBe("object");
  return text.slice(0, at) + closing;
}

let server: EnvironmentServer;
beforeAll(async () => {
  server = await serve(McpEchoEnvironment, { port: 0 });
});
afterAll(() => server?.close());

async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(server.url + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const call = (tool_name: string, args: object) => ({ action: { type: "call_tool", tool_name, arguments: args } });

describe("mcp-echo over OpenEnv's HTTP routes, against OpenEnv's echo_env", () => {
  it("answers tool calls, listings and unknown tools as echo_env does", async () => {
    const cases: [unknown, string][] = [
      [call("echo_message", { message: "hi" }), recorded.http.stepOk],
      [call("echo_with_length", { message: "hi" }), recordedMcp.http.stepEchoWithLength],
      [{ action: { type: "list_tools" } }, recordedMcp.http.stepListTools],
      [call("nope", {}), recordedMcp.http.stepUnknownTool],
    ];
    for (const [body, want] of cases) {
      const r = await post("/step", body);
      expect(r.status).toBe(200);
      expect(withoutMetadata(r.text)).toBe(want);
      expect(JSON.parse(r.text).metadata).toEqual({});
    }
  });

  it("refuses an action that is not a tool call with echo_env's 422", async () => {
    const r = await post("/step", { action: { message: "hi" } });
    expect(r.status).toBe(422);
    expect(r.text).toBe(recorded.http.stepInvalidAction);
  });

  it("resets with reward 0.0 and echo_env's ready metadata", async () => {
    const r = await post("/reset", {});
    expect(withoutMetadata(r.text)).toBe(recorded.http.reset);
    expect(JSON.parse(r.text).metadata).toEqual({ status: "ready", message: "Echo environment ready!" });
  });

  it("reports echo_env's action and observation schemas", async () => {
    const res = await fetch(`${server.url}/schema`);
    const ours = (await res.json()) as Record<string, unknown>;
    const theirs = JSON.parse(recordedMcp.http.schema) as Record<string, unknown>;
    expect(JSON.stringify(ours.action)).toBe(JSON.stringify(theirs.action));
    expect(JSON.stringify(ours.observation)).toBe(JSON.stringify(theirs.observation));
  });
});

describe("mcp-echo over /ws, against OpenEnv's echo_env", () => {
  it("runs echo_env's recorded session frame for frame", async () => {
    const ws = await RawWs.open(`${server.url.replace("http", "ws")}/ws`);
    try {
      expect(withoutMetadata(await ws.ask({ type: "reset", data: { seed: 42, episode_id: "ep-1" } }))).toBe(recorded.ws.resetReply);
      const first = await ws.ask({ type: "step", data: { type: "call_tool", tool_name: "echo_message", arguments: { message: "hi" } } });
      expect(JSON.parse(withoutMetadata(first))).toEqual({ type: "observation", data: JSON.parse(recorded.http.stepOk) });
      await ws.ask({ type: "step", data: { type: "call_tool", tool_name: "echo_with_length", arguments: { message: "hi" } } });
      await ws.ask({ type: "step", data: { type: "list_tools" } });
      expect(await ws.ask({ type: "state" })).toBe(recordedMcp.ws.stateAfterThreeSteps);
      expect(withoutMetadata(await ws.ask({ type: "step", data: { type: "call_tool", tool_name: "echo_message", arguments: {} } }))).toBe(
        recordedMcp.ws.stepMissingArgument,
      );
      expect(
        withoutMetadata(await ws.ask('{"type":"step","data":{"tool_name":"echo_message","arguments":{"message":"no type field"}}}')),
      ).toBe(recordedMcp.ws.stepNoType);
      expect(await ws.ask({ type: "step", data: { message: "hi" } })).toBe(recorded.ws.stepInvalidAction);
    } finally {
      ws.close();
    }
  });
});

describe("mcp-echo over OpenEnv's WS /mcp (JSON-RPC over a WebSocket, one session per connection)", () => {
  it("lists and calls the tools as echo_env does, each call a step of the connection's session", async () => {
    const ws = await RawWs.open(`${server.url.replace("http", "ws")}/mcp`);
    try {
      const listed = JSON.parse(await ws.ask({ jsonrpc: "2.0", method: "tools/list", id: 1 })) as {
        result: { tools: Record<string, unknown>[] };
      };
      const theirs = JSON.parse(recordedMcp.ws.mcpToolsList) as { data: { result: { tools: Record<string, unknown>[] } } };
      // FastMCP adds its own `meta` ({"fastmcp": {"tags": []}}); everything else is the same.
      const withoutMeta = (tools: Record<string, unknown>[]) => tools.map(({ meta: _meta, ...rest }) => rest);
      expect(withoutMeta(listed.result.tools)).toEqual(withoutMeta(theirs.data.result.tools));
      const call = await ws.ask({
        jsonrpc: "2.0",
        method: "tools/call",
        params: { name: "echo_message", arguments: { message: "x" } },
        id: "a",
      });
      expect(JSON.stringify({ type: "mcp", data: JSON.parse(call) })).toBe(recordedMcp.ws.mcpToolsCall);
      const sessionId = (
        JSON.parse(await ws.ask({ jsonrpc: "2.0", method: "openenv/session/create", id: 2 })) as { result: { session_id: string } }
      ).result.session_id;
      expect(server.router.sessions.find(sessionId)?.stepCount).toBe(1);
      const missing = JSON.parse(await ws.ask({ jsonrpc: "2.0", method: "tools/call", params: {}, id: 3 })) as {
        error: { code: number; message: string };
      };
      expect(missing.error).toEqual({ code: -32602, message: "Missing 'name' in params", data: null });
    } finally {
      ws.close();
    }
  });
});
