import { describe, expect, it } from "vitest";
import { argumentErrors, toolResult, toolViews } from "../../src/web/app/tools.js";
import { recordedMcp } from "../fixtures/openenv-recorded-mcp.js";

/** The tools panel's reading of tool listings, results and argument errors, on OpenEnv's recorded echo_env answers. */

const observationOf = (frame: string): Record<string, unknown> =>
  (JSON.parse(frame) as { data: { observation: Record<string, unknown> } }).data.observation;

describe("tools panel model", () => {
  it("reads MCP's tools/list as OpenEnv's echo_env answers it", () => {
    const listed = JSON.parse(recordedMcp.ws.mcpToolsList) as { data: { result: { tools: unknown } } };
    const tools = toolViews(listed.data.result.tools);
    expect(tools.map((t) => t.name)).toEqual(["echo_message", "echo_with_length"]);
    expect(tools[0]?.inputSchema).toMatchObject({ properties: { message: { type: "string" } }, required: ["message"] });
  });

  it("reads OpenEnv's CallToolObservation: a result, and an invalid_args error with the argument it names", () => {
    const ok = toolResult(observationOf(recordedMcp.ws.stepNoType));
    expect(ok).toMatchObject({
      toolName: "echo_message",
      isError: false,
      error: undefined,
      structuredContent: { result: "no type field" },
    });
    expect(ok?.content.map((c) => [c.type, c.text])).toEqual([["text", "no type field"]]);
    const bad = toolResult(observationOf(recordedMcp.ws.stepMissingArgument));
    expect(bad?.error?.type).toBe("invalid_args");
    expect(argumentErrors(bad?.error?.message ?? "")).toEqual([{ path: "message", message: "Missing required argument" }]);
  });

  it("reads our ToolObservation's proto JSON, error types by enum name", () => {
    const r = toolResult({
      call_tool: {
        tool_name: "slow",
        error: { error_type: "TOOL_ERROR_TYPE_TIMEOUT", message: "Tool 'slow' timed out after 0.2 seconds" },
      },
    });
    expect(r?.error).toEqual({ type: "timeout", message: "Tool 'slow' timed out after 0.2 seconds" });
    expect(toolResult({ list_tools: { tools: [] } })).toBeUndefined();
  });

  it("names each argument of a multi-error message, list items as paths", () => {
    const message =
      "2 validation errors for call[add]\nb\n  Missing required argument [type=missing_argument, input_value={'a': 1}, input_type=dict]\n" +
      "    For further information visit https://errors.pydantic.dev/2.14/v/missing_argument\n" +
      "items.0.name\n  Input should be a valid string [type=string_type, input_value=5, input_type=int]";
    expect(argumentErrors(message)).toEqual([
      { path: "b", message: "Missing required argument" },
      { path: "items[0].name", message: "Input should be a valid string" },
    ]);
    expect(argumentErrors("refused")).toEqual([]);
  });
});
