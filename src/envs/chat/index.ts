/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/chat`: a conversation scored by an LLM judge; its
 * generated messages (`ChatActionSchema`, ...), spec, class and judge rubric.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/chat/v1/chat_pb.js";
export {
  ChatEnvironment,
  type ChatJudgeOptions,
  type ChatOptions,
  chatJudgeRubric,
  chatSpec,
  defaultChatJudgeTemplate,
} from "./environment.js";
