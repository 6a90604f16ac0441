import * as http2 from "node:http2";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpEchoEnvironment } from "../../src/envs/mcp_echo/environment.js";
import { WorkspaceEnvironment } from "../../src/envs/workspace/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/index.js";
import { waitFor } from "../helpers.js";

/** The MCP SDK's own client, over Streamable HTTP to `/mcp`. */
async function mcpClient(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: "sdk-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`));
  await client.connect(transport);
  return { client, transport };
}

let echo: EnvironmentServer;
let workspace: EnvironmentServer;
beforeAll(async () => {
  echo = await serve(McpEchoEnvironment, { port: 0, maxSessions: 2 });
  workspace = await serve(WorkspaceEnvironment, { port: 0 });
});
afterAll(async () => {
  await echo?.close();
  await workspace?.close();
});

describe("real MCP over Streamable HTTP (the MCP SDK's client)", () => {
  it("initializes, lists the tools with their JSON Schemas, calls them, pings, and ends its session", async () => {
    const { client, transport } = await mcpClient(echo.url);
    expect(client.getServerVersion()).toEqual({ name: "mcp_echo", version: "1.0.0" });
    expect(client.getServerCapabilities()?.tools).toEqual({ listChanged: false });
    const sessionId = transport.sessionId as string;
    expect(echo.router.sessions.find(sessionId)).toBeDefined(); // the MCP session is a session of the server

    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["echo_message", "echo_with_length"]);
    expect(tools[0]?.inputSchema).toEqual({
      additionalProperties: false,
      properties: { message: { type: "string" } },
      required: ["message"],
      type: "object",
    });
    expect(tools[1]?._meta).toMatchObject({
      "openenv/input_type": "openenv.envs.mcp_echo.v1.EchoArgs",
      "openenv/output_type": "openenv.envs.mcp_echo.v1.EchoWithLengthResult",
    });

    const hi = await client.callTool({ name: "echo_message", arguments: { message: "hi" } });
    expect(hi).toEqual({
      content: [{ type: "text", text: "hi" }],
      structuredContent: { result: "hi" },
      isError: false,
      _meta: { "openenv/reward": null, "openenv/done": false, "openenv/step_count": 1 },
    });
    const len = await client.callTool({ name: "echo_with_length", arguments: { message: "héllo" } });
    expect(len.structuredContent).toEqual({ message: "héllo", length: 5 });
    expect(len._meta).toMatchObject({ "openenv/step_count": 2 });

    expect(await client.ping()).toEqual({});

    // MCP's error shapes: an unknown tool is a protocol error, bad arguments a result the model can read.
    const unknown = await client.callTool({ name: "nope", arguments: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(unknown).toBeInstanceOf(McpError);
    expect((unknown as McpError).code).toBe(ErrorCode.InvalidParams);
    expect((unknown as McpError).message).toContain("Unknown tool: 'nope'");
    const invalid = await client.callTool({ name: "echo_message", arguments: {} });
    expect(invalid.isError).toBe(true);
    expect((invalid.content as { text: string }[])[0]?.text).toContain("Missing required argument [type=missing_argument");
    expect(invalid._meta).toMatchObject({ "openenv/error_type": "invalid_args" });

    await transport.terminateSession(); // DELETE /mcp
    await waitFor(() => echo.router.sessions.find(sessionId) === undefined, 10_000, "the session to close");
    await client.close();
  });

  it("counts MCP sessions against the server's limit, and refuses the one over it", async () => {
    const a = await mcpClient(echo.url);
    const b = await mcpClient(echo.url);
    const refused = await mcpClient(echo.url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(refused)).toContain("Server at capacity: 2/2 sessions active");
    await a.transport.terminateSession();
    await waitFor(() => echo.router.sessions.active < 2, 10_000, "a slot to free");
    const c = await mcpClient(echo.url);
    for (const x of [b, c]) await x.transport.terminateSession();
    for (const x of [a, b, c]) await x.client.close();
    await waitFor(() => echo.router.sessions.active === 0, 10_000, "every session to close");
  });

  it("streams a tool's partial results as progress notifications, and carries the step's reward", async () => {
    const { client } = await mcpClient(workspace.url);
    const progress: { progress: number; message?: string }[] = [];
    const code = "import time\nfor i in range(3):\n    print('line', i, flush=True)\n    time.sleep(0.05)";
    const run = await client.callTool({ name: "run_python", arguments: { code } }, undefined, { onprogress: (p) => progress.push(p) });
    expect(run.isError).toBe(false);
    expect((run.structuredContent as { stdout: string }).stdout).toBe("line 0\nline 1\nline 2\n");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.map((p) => p.message ?? "").join("")).toBe("line 0\nline 1\nline 2\n");
    expect(progress.map((p) => p.progress)).toEqual(progress.map((_, i) => i + 1));
    const submitted = await client.callTool({ name: "submit", arguments: {} });
    expect(submitted._meta).toMatchObject({ "openenv/done": true });
    expect(typeof (submitted._meta as Record<string, unknown>)["openenv/reward"]).toBe("number");
    // The episode is over: another call says so.
    const after = await client.callTool({ name: "list_dir", arguments: {} }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(String(after)).toMatch(/is over; reset to start a new one/);
    await client.close();
  });

  it("serves Streamable HTTP over cleartext HTTP/2 too (the one port speaks both)", async () => {
    const session = http2.connect(echo.url);
    const post = (
      body: unknown,
      headers: Record<string, string> = {},
    ): Promise<{ status: number; headers: http2.IncomingHttpHeaders; text: string }> =>
      new Promise((resolve, reject) => {
        const req = session.request({
          ":method": "POST",
          ":path": "/mcp",
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
          ...headers,
        });
        let status = 0;
        let responseHeaders: http2.IncomingHttpHeaders = {};
        let text = "";
        req.on("response", (h) => {
          status = Number(h[":status"]);
          responseHeaders = h;
        });
        req.setEncoding("utf8");
        req.on("data", (d: string) => (text += d));
        req.on("end", () => resolve({ status, headers: responseHeaders, text }));
        req.on("error", reject);
        req.end(JSON.stringify(body));
      });
    try {
      const init = await post({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "h2", version: "1" } },
      });
      expect(init.status).toBe(200);
      const sid = String(init.headers["mcp-session-id"]);
      const h = { "mcp-session-id": sid, "mcp-protocol-version": "2025-06-18" };
      await post({ jsonrpc: "2.0", method: "notifications/initialized" }, h);
      const call = await post(
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "echo_message", arguments: { message: "h2" } } },
        h,
      );
      expect(call.headers["content-type"]).toBe("text/event-stream");
      const data = JSON.parse(/^data: (.*)$/m.exec(call.text)?.[1] ?? "null") as { result: { content: unknown } };
      expect(data.result.content).toEqual([{ type: "text", text: "h2" }]);
      await echo.router.sessions.close(sid);
    } finally {
      session.close();
    }
  });

  it("leaves OpenEnv's JSON-RPC on the same path to OpenEnv's clients", async () => {
    const res = await fetch(`${echo.url}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "tools/call", params: { name: "echo_message", arguments: { message: "x" } }, id: 1 }),
    });
    expect(await res.json()).toEqual({
      jsonrpc: "2.0",
      id: 1,
      result: {
        content: [{ type: "text", text: "x", annotations: null, meta: null }],
        structured_content: { result: "x" },
        meta: null,
        data: "x",
        is_error: false,
      },
    });
  });
});
