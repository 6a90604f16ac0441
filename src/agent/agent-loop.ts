import type { DescMessage, JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Tool } from "../../gen/openenv/v1/tools_pb.js";
import type { EnvClient, EnvStepResult, ResetParams } from "../client/env-client.js";
import type { ToolCallResult } from "../client/tools.js";
import type { ChatClient, ChatMessage, ChatTool } from "./chat.js";

/** A message in the chat format TRL's SFTTrainer reads (tool-call arguments as objects, as Transformers' chat templates want). */
export type TrlMessage =
  | { readonly role: "system" | "user"; readonly content: string }
  | {
      readonly role: "assistant";
      readonly content: string;
      readonly tool_calls?: readonly {
        readonly id: string;
        readonly type: "function";
        readonly function: { readonly name: string; readonly arguments: JsonValue };
      }[];
    }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly name: string; readonly content: string };

/** One tool call of an episode: what the model asked, what the environment answered, and the step it was. */
export interface ToolTraceEntry {
  /** The model turn that made the call (1-based). */
  readonly turn: number;
  readonly tool_name: string;
  readonly arguments: JsonValue;
  readonly result: {
    /** The tool's value (FastMCP's `data`); null on error. */
    readonly data: JsonValue;
    readonly text: string;
    readonly is_error: boolean;
    /** OpenEnv's ToolError type and message, when the call failed around the tool. */
    readonly error: { readonly type: string; readonly message: string } | null;
    readonly done: boolean;
    readonly metadata: JsonObject;
  };
  /** The step's reward; null when the environment gave none. */
  readonly reward: number | null;
  /** The environment's step count after the call; 0 when the call never reached it (arguments that are not JSON). */
  readonly step: number;
}

/** Why an episode's loop stopped. */
export type StopReason = "done" | "no_tool_calls" | "max_turns";

/** One episode driven by a model. */
export interface AgentEpisode {
  readonly episodeId: string;
  /** The transcript in TRL's chat format. */
  readonly messages: TrlMessage[];
  /** The tools offered, as function declarations (TRL's `tools` column). */
  readonly tools: ChatTool[];
  /** The episode's return: the sum of its steps' rewards. */
  readonly reward: number;
  /** The environment ended the episode (terminated or truncated). */
  readonly done: boolean;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly toolTrace: ToolTraceEntry[];
  /** The reset's metadata (e.g. the task and its instruction). */
  readonly task: JsonObject;
  readonly metrics: {
    readonly turns: number;
    readonly tool_calls: number;
    readonly tool_errors: number;
    readonly steps: number;
    readonly stop_reason: StopReason;
    readonly prompt_tokens: number;
    readonly completion_tokens: number;
    readonly llm_ms: number;
    readonly env_ms: number;
    readonly duration_ms: number;
  };
}

/** Options of {@link runAgentEpisode}. */
export interface AgentEpisodeOptions {
  /** The model. */
  readonly chat: ChatClient;
  /** Model turns at most (each may make several tool calls). Default 8. */
  readonly maxTurns?: number;
  /** The system message. Default {@link DEFAULT_AGENT_SYSTEM_PROMPT}. */
  readonly systemPrompt?: string;
  /**
   * The first user message. Default: the reset metadata's `instruction` (the
   * task, as tool environments such as `workspace` give it), else a generic request.
   */
  readonly prompt?: string | ((first: EnvStepResult) => string);
  /** Parameters of the episode's reset (seed, episode id, options). */
  readonly reset?: ResetParams;
  readonly temperature?: number;
  readonly maxTokens?: number;
  /** Stops the episode (the pending model request or tool call is abandoned). */
  readonly signal?: AbortSignal;
}

/** The system message the agent loop uses unless told otherwise. */
export const DEFAULT_AGENT_SYSTEM_PROMPT =
  "You are an agent acting in an environment through the tools provided. Call tools to make progress; " +
  "read each tool result before the next call. When the task is complete, finish as the task says (for example by " +
  "calling its submit tool), or answer without calling a tool.";

/**
 * Drives a tool environment with a model for one episode: reset, list the
 * tools, then up to `maxTurns` model turns; every tool call the model makes is
 * one step (so the environment's rewards and limits apply), and its result goes
 * back to the model as a tool message. Stops when the environment ends the
 * episode, when the model answers without calling a tool, or after `maxTurns`.
 *
 * @example
 * ```ts
 * await using env = await EnvClient.connect({ baseUrl, spec: workspaceSpec });
 * const episode = await runAgentEpisode(env, { chat: new ChatClient({ baseUrl: llmUrl, model: "qwen" }), maxTurns: 10 });
 * console.log(episode.reward, episode.metrics.stop_reason);
 * ```
 */
export async function runAgentEpisode(
  env: EnvClient<DescMessage, DescMessage, DescMessage, DescMessage>,
  options: AgentEpisodeOptions,
): Promise<AgentEpisode> {
  const started = performance.now();
  let envMs = 0;
  let llmMs = 0;
  const timed = async <T>(p: Promise<T>, add: (ms: number) => void): Promise<T> => {
    const t = performance.now();
    try {
      return await p;
    } finally {
      add(performance.now() - t);
    }
  };
  // Tools first: before a reset they come from Describe (RPC) or a listing on the fresh session (OpenEnv's
  // protocols), so no listing step lands in the episode and its step counts are the same on every transport.
  const tools = await timed(env.listTools({ useCache: true }), (ms) => (envMs += ms));
  const first = await timed(env.reset(options.reset ?? {}), (ms) => (envMs += ms));
  const chatTools = tools.map(chatToolOf);
  const task = (first.metadata ?? {}) as JsonObject;
  const prompt =
    typeof options.prompt === "function"
      ? options.prompt(first)
      : (options.prompt ?? (typeof task.instruction === "string" ? task.instruction : "Use the tools to complete the task."));
  const chat: ChatMessage[] = [
    { role: "system", content: options.systemPrompt ?? DEFAULT_AGENT_SYSTEM_PROMPT },
    { role: "user", content: prompt },
  ];
  const trace: ToolTraceEntry[] = [];
  const maxTurns = options.maxTurns ?? 8;
  let reward = 0;
  let last: EnvStepResult | undefined;
  let turns = 0;
  let promptTokens = 0;
  let completionTokens = 0;
  let stop: StopReason = "max_turns";
  let errors = 0;
  outer: while (turns < maxTurns) {
    turns++;
    const answer = await timed(
      options.chat.complete({
        messages: chat,
        tools: chatTools,
        temperature: options.temperature,
        maxTokens: options.maxTokens,
        signal: options.signal,
      }),
      (ms) => (llmMs += ms),
    );
    promptTokens += answer.usage.promptTokens;
    completionTokens += answer.usage.completionTokens;
    chat.push(answer.message);
    const calls = answer.message.tool_calls ?? [];
    if (calls.length === 0) {
      stop = "no_tool_calls";
      break;
    }
    for (const call of calls) {
      options.signal?.throwIfAborted();
      const args = parseArguments(call.function.arguments);
      if (args === undefined) {
        // Not a step: the environment never sees a call it could not decode.
        errors++;
        const message = `the arguments are not a JSON object: ${call.function.arguments.slice(0, 200)}`;
        chat.push({ role: "tool", tool_call_id: call.id, content: `Error (invalid_args): ${message}` });
        trace.push({
          turn: turns,
          tool_name: call.function.name,
          arguments: call.function.arguments,
          result: { data: null, text: "", is_error: false, error: { type: "invalid_args", message }, done: false, metadata: {} },
          reward: null,
          step: 0,
        });
        continue;
      }
      const result = await timed(env.callTool(call.function.name, args), (ms) => (envMs += ms));
      last = result.step as EnvStepResult;
      if (result.step.reward !== undefined) reward += result.step.reward;
      if (result.error !== undefined || result.isError) errors++;
      chat.push({ role: "tool", tool_call_id: call.id, content: toolMessage(result) });
      trace.push(traceEntry(turns, call.function.name, args, result));
      if (result.step.done) {
        stop = "done";
        break outer;
      }
    }
  }
  return {
    episodeId: first.episodeId,
    messages: trlMessages(chat),
    tools: chatTools,
    reward,
    done: last?.done ?? false,
    terminated: last?.terminated ?? false,
    truncated: last?.truncated ?? false,
    toolTrace: trace,
    task,
    metrics: {
      turns,
      tool_calls: trace.length,
      tool_errors: errors,
      steps: trace.filter((t) => t.step > 0).length,
      stop_reason: stop,
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      llm_ms: Math.round(llmMs),
      env_ms: Math.round(envMs),
      duration_ms: Math.round(performance.now() - started),
    },
  };
}

/** A tool as an OpenAI function declaration. */
export function chatToolOf(tool: Tool): ChatTool {
  return {
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema ?? { type: "object", properties: {} } },
  };
}

function parseArguments(text: string): JsonObject | undefined {
  if (text.trim() === "") return {};
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined;
  } catch {
    return undefined;
  }
}

/** What the model reads back: the result's text (its JSON when it has none), or the error. */
function toolMessage(r: ToolCallResult<undefined>): string {
  if (r.error !== undefined) return `Error (${r.error.type}): ${r.error.message}`;
  if (r.text !== "") return r.text;
  return JSON.stringify(r.structuredContent ?? r.data);
}

function traceEntry(turn: number, name: string, args: JsonObject, r: ToolCallResult<undefined>): ToolTraceEntry {
  return {
    turn,
    tool_name: name,
    arguments: args,
    result: {
      data: r.error === undefined ? r.data : null,
      text: r.text,
      is_error: r.isError,
      error: r.error === undefined ? null : { type: r.error.type, message: r.error.message },
      done: r.step.done,
      metadata: (r.step.metadata ?? {}) as JsonObject,
    },
    reward: r.step.reward ?? null,
    step: r.step.stepCount,
  };
}

/** The transcript in TRL's format: tool messages name their tool, tool-call arguments are objects. */
function trlMessages(chat: readonly ChatMessage[]): TrlMessage[] {
  const names = new Map<string, string>();
  return chat.map((m): TrlMessage => {
    if (m.role === "tool") return { role: "tool", tool_call_id: m.tool_call_id, name: names.get(m.tool_call_id) ?? "", content: m.content };
    if (m.role !== "assistant") return m;
    if (m.tool_calls === undefined) return { role: "assistant", content: m.content ?? "" };
    for (const c of m.tool_calls) names.set(c.id, c.function.name);
    return {
      role: "assistant",
      content: m.content ?? "",
      tool_calls: m.tool_calls.map((c) => ({
        id: c.id,
        type: "function",
        function: { name: c.function.name, arguments: parseArguments(c.function.arguments) ?? c.function.arguments },
      })),
    };
  });
}
