import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAgentEpisode } from "../../src/agent/agent-loop.js";
import { ChatClient } from "../../src/agent/chat.js";
import { EnvClient } from "../../src/client/env-client.js";
import { McpEchoEnvironment, mcpEchoSpec } from "../../src/envs/mcp_echo/environment.js";
import { WorkspaceEnvironment } from "../../src/envs/workspace/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/index.js";
import { workspacePolicy } from "../fixtures/agent-policies.js";
import { FakeLlmServer } from "../fixtures/fake-llm.js";

let llm: FakeLlmServer;
let echo: EnvironmentServer;
let workspace: EnvironmentServer;

beforeAll(async () => {
  llm = await new FakeLlmServer(() => "unused").start();
  echo = await serve(McpEchoEnvironment, { port: 0 });
  workspace = await serve(WorkspaceEnvironment, { port: 0 });
});
afterAll(async () => {
  await llm?.close();
  await echo?.close();
  await workspace?.close();
});

describe("agent loop: an OpenAI-compatible model drives a tool environment", () => {
  it("sends the tools as functions, turns each tool call into a step and each result into a tool message", async () => {
    llm.answer = (req) => {
      const turn = req.messages.filter((m) => m.role === "assistant").length;
      if (turn === 0)
        return {
          toolCalls: [
            { name: "echo_message", arguments: { message: "hi" } },
            { name: "echo_with_length", arguments: { message: "héllo" } },
          ],
        };
      if (turn === 1)
        return {
          toolCalls: [
            { name: "nope", arguments: {} },
            { name: "echo_message", arguments: "{not json" },
          ],
        };
      return "All done.";
    };
    const start = llm.requests.length;
    await using env = await EnvClient.connect({ baseUrl: echo.url, spec: mcpEchoSpec });
    const episode = await runAgentEpisode(env, { chat: new ChatClient({ baseUrl: llm.baseUrl, model: "fake" }), maxTurns: 5 });
    const first = llm.requests[start];
    expect(first?.body.tools).toEqual([
      expect.objectContaining({
        type: "function",
        function: expect.objectContaining({ name: "echo_message", parameters: expect.objectContaining({ required: ["message"] }) }),
      }),
      expect.objectContaining({ type: "function", function: expect.objectContaining({ name: "echo_with_length" }) }),
    ]);
    expect(first?.messages.map((m) => m.role)).toEqual(["system", "user"]);
    // The second request carries the model's calls and the environment's answers, in order.
    const second = llm.requests[start + 1];
    expect(second?.messages.slice(2).map((m) => [m.role, m.tool_call_id ?? "", m.content])).toEqual([
      ["assistant", "", null],
      ["tool", `call_${start + 1}_0`, "hi"],
      ["tool", `call_${start + 1}_1`, '{"message":"héllo","length":5}'],
    ]);
    expect(episode.metrics).toMatchObject({
      turns: 3,
      tool_calls: 4,
      tool_errors: 2,
      steps: 3,
      stop_reason: "no_tool_calls",
      prompt_tokens: 30,
      completion_tokens: 15,
    });
    expect(episode.toolTrace.map((t) => [t.tool_name, t.result.error?.type ?? null, t.step])).toEqual([
      ["echo_message", null, 1],
      ["echo_with_length", null, 2],
      ["nope", "tool_not_found", 3],
      ["echo_message", "invalid_args", 0],
    ]);
    expect(episode.toolTrace[1]?.result.data).toEqual({ message: "héllo", length: 5 });
    expect((await env.state()).stepCount).toBe(3);
    // TRL's chat format: arguments as objects, tool messages name their tool.
    expect(episode.messages[2]).toEqual({
      role: "assistant",
      content: "",
      tool_calls: [
        { id: `call_${start + 1}_0`, type: "function", function: { name: "echo_message", arguments: { message: "hi" } } },
        { id: `call_${start + 1}_1`, type: "function", function: { name: "echo_with_length", arguments: { message: "héllo" } } },
      ],
    });
    expect(episode.messages[3]).toEqual({ role: "tool", tool_call_id: `call_${start + 1}_0`, name: "echo_message", content: "hi" });
    expect(episode.messages.at(-1)).toEqual({ role: "assistant", content: "All done." });
    expect(episode.reward).toBe(0);
    expect(episode.done).toBe(false);
  });

  it("stops at the environment's end of episode, summing the rewards; also over OpenEnv's WebSocket", async () => {
    llm.answer = workspacePolicy;
    for (const transport of ["connect", "websocket"] as const) {
      await using env = await EnvClient.connect({ baseUrl: workspace.url, transport });
      const episode = await runAgentEpisode(env, {
        chat: new ChatClient({ baseUrl: llm.baseUrl, model: "fake" }),
        reset: { options: { task: "fizzbuzz" } },
      });
      expect(episode.task).toMatchObject({ task: "fizzbuzz" });
      expect(episode.metrics.stop_reason).toBe("done");
      expect(episode.done && episode.terminated).toBe(true);
      expect(episode.toolTrace.map((t) => t.tool_name)).toEqual(["write_file", "list_dir", "run_python", "submit"]);
      expect(episode.reward).toBeCloseTo(0.9 + 0.1 * (1 - 4 / 30), 9);
    }
  });

  it("stops after maxTurns", async () => {
    llm.answer = () => ({ toolCalls: [{ name: "echo_message", arguments: { message: "again" } }] });
    await using env = await EnvClient.connect({ baseUrl: echo.url });
    const episode = await runAgentEpisode(env, { chat: new ChatClient({ baseUrl: llm.baseUrl, model: "fake" }), maxTurns: 3 });
    expect(episode.metrics).toMatchObject({ turns: 3, tool_calls: 3, stop_reason: "max_turns" });
  });
});
