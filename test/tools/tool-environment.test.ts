import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpEchoStateSchema } from "../../gen/openenv/envs/mcp_echo/v1/mcp_echo_pb.js";
import { type ToolProgress, ToolProgressSchema } from "../../gen/openenv/v1/tools_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { defineTool, type EnvironmentServer, serve, toolEnvironmentSpec } from "../../src/server/index.js";
import { expectConnectError } from "../envs/helpers.js";
import { seen, ToolTestEnvironment, typedLength } from "../fixtures/tool-env.js";

const spec = ToolTestEnvironment.spec;

describe("tool declarations", () => {
  it("refuses OpenEnv's reserved names, with OpenEnv's message", () => {
    for (const name of ["reset", "step", "state", "close"]) {
      expect(() => defineTool({ name, description: "x", run: () => "x" })).toThrow(
        `Tool name '${name}' is reserved and cannot be used. Reserved names are: ['close', 'reset', 'state', 'step']`,
      );
    }
  });

  it("refuses a name declared twice and names MCP clients cannot use", () => {
    const t = defineTool({ name: "t", description: "x", run: () => "x" });
    expect(() => toolEnvironmentSpec({ name: "x", state: McpEchoStateSchema, tools: [t, t] })).toThrow("tool 't' is declared twice");
    expect(() => defineTool({ name: "has space", description: "x", run: () => "x" })).toThrow("invalid tool name");
    expect(() => defineTool({ name: "t", description: "x", timeoutS: 0, run: () => "x" })).toThrow("timeoutS");
  });
});

for (const transport of ["connect", "grpc-web", "websocket", "http"] as const) {
  describe(`tool calls as steps over ${transport}`, () => {
    let server: EnvironmentServer;
    let env: EnvClient<typeof spec.action, typeof spec.observation, typeof spec.state, typeof spec.partial & object>;

    beforeAll(async () => {
      server = await serve(ToolTestEnvironment, { port: 0 });
      env = await EnvClient.connect({ baseUrl: server.url, spec, transport });
      await env.reset();
    });
    afterAll(async () => {
      await env?.close();
      await server?.close();
    });

    it("lists the tools of the simulation mode with their schemas and message types", async () => {
      const tools = await env.listTools({ useCache: false });
      expect(tools.map((t) => t.name)).toEqual(["add", "typed_length", "slow", "boom", "refuse", "progress", "finish", "sim_only"]);
      const typed = tools.find((t) => t.name === "typed_length");
      expect(typed?.inputSchema?.properties).toHaveProperty("message");
      if (transport === "connect" || transport === "grpc-web") {
        expect(typed?.inputType).toBe("openenv.envs.mcp_echo.v1.EchoArgs");
        expect(typed?.outputType).toBe("openenv.envs.mcp_echo.v1.EchoWithLengthResult");
        expect(tools.find((t) => t.name === "slow")?.timeoutS).toBe(0.2);
      }
    });

    it("calls a JSON-Schema tool: each call is a step", async () => {
      const before = (await env.state()).stepCount;
      const r = await env.callTool("add", { a: 2, b: 3 });
      expect(r.error).toBeUndefined();
      expect([r.text, r.data, r.structuredContent]).toEqual(["5", 5, { result: 5 }]);
      expect(r.step.stepCount).toBe(before + 1);
      expect((await env.state()).stepCount).toBe(before + 1);
    });

    it("reports invalid arguments in FastMCP's words, per argument", async () => {
      const wrong = await env.callTool("add", { a: "x", b: 1 });
      expect(wrong.error?.type).toBe("invalid_args");
      expect(wrong.error?.message).toBe(
        "1 validation error for call[add]\na\n  Input should be a valid integer [type=int_type, input_value='x', input_type=str]\n    For further information visit https://errors.pydantic.dev/2.14/v/int_type",
      );
      const missing = await env.callTool("add", { a: 1, c: 2 });
      expect(missing.error?.message).toMatch(/^2 validation errors for call\[add\]\n/);
      expect(missing.error?.message).toContain(
        "b\n  Missing required argument [type=missing_argument, input_value={'a': 1, 'c': 2}, input_type=dict]",
      );
      expect(missing.error?.message).toContain(
        "c\n  Unexpected keyword argument [type=unexpected_keyword_argument, input_value=2, input_type=int]",
      );
    });

    it("answers an unknown tool, an exception and a ToolError with OpenEnv's error types; the session stays usable", async () => {
      expect((await env.callTool("nope", {})).error).toEqual({ type: "tool_not_found", message: "Unknown tool: 'nope'" });
      expect((await env.callTool("boom")).error).toEqual({ type: "execution_error", message: "Error calling tool 'boom': boom" });
      expect((await env.callTool("refuse")).error).toEqual({ type: "invalid_args", message: "refused" });
      expect((await env.callTool("add", { a: 1, b: 1 })).data).toBe(2);
    });

    it("times a tool out at its own limit, aborting it, and keeps the session", async () => {
      const aborted = seen.slowAborted;
      const r = await env.callTool("slow");
      expect(r.error).toEqual({ type: "timeout", message: "Tool 'slow' timed out after 0.2 seconds" });
      expect(seen.slowAborted).toBe(aborted + 1);
      const shorter = await env.callTool("slow", {}, { toolTimeoutS: 0.05 });
      expect(shorter.error?.message).toBe("Tool 'slow' timed out after 0.05 seconds");
      expect((await env.callTool("add", { a: 2, b: 2 })).data).toBe(4);
    });

    it("calls a proto-typed tool with its message and decodes its typed result", async () => {
      const r = await env.callTool(typedLength, { message: "héllo 👋" });
      expect(r.error).toBeUndefined();
      expect(r.output?.length).toBe(7);
      expect(r.output?.message).toBe("héllo 👋");
      expect(r.structuredContent).toEqual({ message: "héllo 👋", length: 7 });
      const bad = await env.callTool("typed_length", { message: 5 });
      expect(bad.error?.type).toBe("invalid_args");
      expect(bad.error?.message).toContain("message\n  Input should be a valid string [type=string_type, input_value=5, input_type=int]");
    });

    it.skipIf(transport === "websocket" || transport === "http")(
      "streams a tool's progress as ToolProgress partial observations",
      async () => {
        const parts: { p: ToolProgress; progress: number | undefined }[] = [];
        const r = await env.callTool("progress", {}, { onPartial: (p, progress) => parts.push({ p: p as ToolProgress, progress }) });
        expect(r.data).toBe("done");
        expect(parts.map((x) => [x.p.$typeName, x.p.progress, x.p.total, x.p.message, x.progress])).toEqual([
          [ToolProgressSchema.typeName, 1, 3, "part 1", 1 / 3],
          [ToolProgressSchema.typeName, 2, 3, "part 2", 2 / 3],
          [ToolProgressSchema.typeName, 3, 3, "part 3", 1],
        ]);
      },
    );

    it("lets a tool set the reward and end the episode; later calls need a reset", async () => {
      const r = await env.callTool("finish");
      expect(r.data).toEqual({ ok: true });
      expect(r.step.reward).toBe(1);
      expect(r.step.done).toBe(true);
      expect(r.step.terminated).toBe(true);
      expect(r.step.rewardComponents).toEqual({ solved: 1 });
      expect(r.step.metadata?.calls).toBeGreaterThan(0);
      if (transport === "connect") await expectConnectError(env.callTool("add", { a: 1, b: 1 }), Code.FailedPrecondition, /is over/);
      await env.reset();
      expect((await env.callTool("add", { a: 1, b: 1 })).data).toBe(2);
    });
  });
}

describe("production mode", () => {
  it("offers the tools declared for it, on every listing, and refuses the others", async () => {
    await using server = await serve(ToolTestEnvironment, { port: 0, openenv: { mode: "production" } });
    await using env = await EnvClient.connect({ baseUrl: server.url, spec });
    const described = (await env.listTools()).map((t) => t.name);
    expect(described).toContain("prod_only");
    expect(described).not.toContain("sim_only");
    await env.reset();
    const listed = (await env.listTools({ useCache: false })).map((t) => t.name);
    expect(listed).toEqual(described);
    expect((await env.callTool("prod_only")).data).toBe("prod");
    expect((await env.callTool("sim_only")).error).toEqual({
      type: "tool_not_found",
      message: "Tool 'sim_only' not available in production mode",
    });
    const res = await fetch(`${server.url}/step`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
    expect(res.status).toBe(404);
  });
});
