// README "Tool environments (MCP)": declare a tool, serve it, call it as a typed client and as a stock MCP client.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpEchoStateSchema } from "../gen/openenv/envs/mcp_echo/v1/mcp_echo_pb.js";
import { defineTool, EnvClient, McpEnvironment, serve, toolEnvironmentSpec } from "../src/index.js";

const add = defineTool({
  name: "add",
  description: "Adds two integers.",
  inputSchema: { type: "object", properties: { a: { type: "integer" }, b: { type: "integer" } }, required: ["a", "b"] },
  run: (_env: Calc, args: { a: number; b: number }, ctx) => {
    ctx.reward(1);
    return args.a + args.b;
  },
});

class Calc extends McpEnvironment<typeof McpEchoStateSchema> {
  static readonly spec = toolEnvironmentSpec({ name: "calc", state: McpEchoStateSchema, tools: [add] });
  get state() {
    return { episodeId: this.episodeId, stepCount: this.stepCount };
  }
}

await using server = await serve(Calc, { port: 0 });
await using env = await EnvClient.connect({ baseUrl: server.url, spec: Calc.spec });
await env.reset();
const r = await env.callTool("add", { a: 2, b: 3 });
console.log(r.data, r.step.reward); // 5 1

// Any MCP client: Streamable HTTP on /mcp.
const mcp = new Client({ name: "example", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`));
await mcp.connect(transport);
console.log((await mcp.listTools()).tools.map((t) => t.name)); // [ 'add' ]
console.log((await mcp.callTool({ name: "add", arguments: { a: 40, b: 2 } })).structuredContent); // { result: 42 }
await transport.terminateSession();
await mcp.close();
