/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/agent`: an LLM agent loop over an MCP tool environment
 * (an OpenAI-compatible chat endpoint with tool calling; each tool call is a
 * step) and `collect`, which runs it for many episodes into `results.jsonl`.
 *
 * @module
 */
export {
  type AgentEpisode,
  type AgentEpisodeOptions,
  chatToolOf,
  DEFAULT_AGENT_SYSTEM_PROMPT,
  runAgentEpisode,
  type StopReason,
  type ToolTraceEntry,
  type TrlMessage,
} from "./agent-loop.js";
export {
  ChatClient,
  type ChatClientOptions,
  ChatError,
  type ChatMessage,
  type ChatRequest,
  type ChatResponse,
  type ChatTool,
  type ChatToolCall,
} from "./chat.js";
export {
  type CollectOptions,
  type CollectProgress,
  type CollectSummary,
  collect,
  collectedIds,
  type EpisodeRecord,
  METADATA_FILE,
  RESULTS_FILE,
} from "./collect.js";
