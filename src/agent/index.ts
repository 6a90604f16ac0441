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
