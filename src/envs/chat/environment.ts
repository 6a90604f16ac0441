import { create, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import {
  type ChatAction,
  ChatActionSchema,
  type ChatMessage,
  ChatMessageSchema,
  type ChatObservation,
  ChatObservationSchema,
  ChatResetOptionsSchema,
  ChatStateSchema,
  StopReason,
} from "../../../gen/openenv/envs/chat/v1/chat_pb.js";
import type { EnvironmentFactory, EnvironmentSpec, ResetOptions, StepContext, StepOutcome } from "../../server/environment.js";
import { Environment } from "../../server/environment.js";
import { WeightedSum } from "../../server/rubrics/containers.js";
import { evaluateRubric } from "../../server/rubrics/evaluate.js";
import { LLMJudge, type LLMJudgeOptions } from "../../server/rubrics/llm-judge.js";
import type { Rubric } from "../../server/rubrics/rubric.js";
import { parseResetOptions } from "../common/reset-options.js";

type Obs = typeof ChatObservationSchema;

/** The chat environment's spec. */
export const chatSpec: EnvironmentSpec<typeof ChatActionSchema, Obs, typeof ChatStateSchema> = {
  name: "chat",
  description: "A conversation: actions add messages; assistant messages are scored by a rubric such as an LLM judge.",
  version: "1.0.0",
  action: ChatActionSchema,
  observation: ChatObservationSchema,
  state: ChatStateSchema,
  rewardComponents: ["judge"],
};

/** Default prompt of the chat judge; `{conversation}` is everything before the reply, `{response}` the reply. */
export const defaultChatJudgeTemplate = `You are grading the latest reply of an AI assistant in a conversation.

Conversation so far:
{conversation}

Latest assistant reply:
{response}

Rate the reply from 0 (unhelpful, wrong or unsafe) to 1 (helpful, correct and clear).
Answer with JSON only: {"score": <number between 0 and 1>, "reason": "<one sentence>"}`;

/** Formats messages as "role: content" blocks for a judge prompt. */
export function formatConversation(messages: readonly ChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}`).join("\n\n");
}

/** Options of the chat judge: {@link LLMJudgeOptions} whose template is optional. */
export type ChatJudgeOptions = Omit<LLMJudgeOptions<ChatAction, ChatObservation>, "promptTemplate" | "variables"> & {
  /** Prompt with `{conversation}`, `{response}`, `{action}`, `{observation}`; default {@link defaultChatJudgeTemplate}. */
  readonly promptTemplate?: string;
};

/** An LLM judge of the latest assistant reply, named `judge` in the reward components. */
export function chatJudgeRubric(options: ChatJudgeOptions = {}): Rubric<ChatAction, ChatObservation> {
  const judge = new LLMJudge<ChatAction, ChatObservation>({
    ...options,
    promptTemplate: options.promptTemplate ?? defaultChatJudgeTemplate,
    variables: (action, observation) => ({
      conversation: formatConversation(observation.messages.slice(0, -1)),
      response: action.content,
      action: JSON.stringify({ role: action.role, content: action.content }),
      observation: formatConversation(observation.messages),
    }),
  });
  return new WeightedSum({ judge }, { judge: 1 });
}

/** Options of {@link ChatEnvironment}. */
export interface ChatOptions {
  /** Scores assistant messages. Takes precedence over `judge`. */
  readonly rubric?: Rubric<ChatAction, ChatObservation>;
  /**
   * An LLM judge for assistant messages (see {@link chatJudgeRubric}). When
   * neither `rubric` nor `judge` is given, a judge is used if
   * `OPENENV_JUDGE_BASE_URL` or `OPENENV_JUDGE_MODEL` is set; otherwise
   * steps carry no reward.
   */
  readonly judge?: ChatJudgeOptions;
}

const defaultStopSequences = ["[DONE]"];

/**
 * A conversation environment (OpenEnv's chat_env, on text rather than
 * tokens): each action appends a message; the observation is the whole
 * history. Assistant messages are scored by the rubric. The episode is
 * terminated by a message containing a stop sequence and truncated at the
 * turn limit. Reset options: `system_prompt`, `messages`, `max_turns`
 * (default 20), `stop_sequences` (default ["[DONE]"]).
 */
export class ChatEnvironment extends Environment<typeof ChatActionSchema, Obs, typeof ChatStateSchema> {
  static readonly spec = chatSpec;
  private readonly rubric: Rubric<ChatAction, ChatObservation> | undefined;
  private messages: ChatMessage[] = [];
  private turn = 0;
  private maxTurns = 20;
  private stopSequences: string[] = defaultStopSequences;
  private stopReason = StopReason.UNSPECIFIED;

  constructor(options: ChatOptions = {}) {
    super();
    const envJudge = process.env.OPENENV_JUDGE_BASE_URL !== undefined || process.env.OPENENV_JUDGE_MODEL !== undefined;
    this.rubric = options.rubric ?? (options.judge !== undefined || envJudge ? chatJudgeRubric(options.judge) : undefined);
  }

  /** A factory serving conversations with these options. */
  static with(options: ChatOptions): EnvironmentFactory<typeof ChatActionSchema, Obs, typeof ChatStateSchema> {
    return { spec: chatSpec, create: () => new ChatEnvironment(options) };
  }

  reset(options: ResetOptions): StepOutcome<Obs> {
    const opts = parseResetOptions(ChatResetOptionsSchema, options.options);
    this.messages = [];
    if (opts.systemPrompt !== undefined) this.messages.push(create(ChatMessageSchema, { role: "system", content: opts.systemPrompt }));
    this.messages.push(...opts.messages);
    this.turn = 0;
    this.maxTurns = opts.maxTurns ?? 20;
    // A list given explicitly (even empty) replaces the default: proto3 cannot tell unset from empty, the JSON can.
    this.stopSequences = hasKey(options.options, "stop_sequences", "stopSequences") ? opts.stopSequences : defaultStopSequences;
    this.stopReason = StopReason.UNSPECIFIED;
    this.rubric?.reset();
    return { observation: this.observe("") };
  }

  async step(action: ChatAction, ctx: StepContext): Promise<StepOutcome<Obs>> {
    this.messages.push(create(ChatMessageSchema, { role: action.role, content: action.content }));
    this.turn++;
    const stopped = this.stopSequences.some((s) => s !== "" && action.content.includes(s));
    const truncated = !stopped && this.turn >= this.maxTurns;
    this.stopReason = stopped ? StopReason.STOP_SEQUENCE : truncated ? StopReason.MAX_TURNS : StopReason.UNSPECIFIED;
    const observation = this.observe("");
    const outcome = { observation, terminated: stopped, truncated };
    if (this.rubric === undefined || action.role !== "assistant") return outcome;
    const score = await evaluateRubric(this.rubric, action, observation, {
      done: stopped || truncated,
      step: this.stepCount + 1,
      signal: ctx.signal,
    });
    const judge = this.rubric instanceof LLMJudge ? this.rubric : this.rubric.rubrics().find((r) => r instanceof LLMJudge);
    const metadata: JsonObject = {};
    if (judge instanceof LLMJudge) {
      observation.judgeFeedback = judge.lastReason ?? "";
      if (judge.lastError !== undefined) metadata.judge_error = judge.lastError;
    }
    return { ...outcome, reward: score.reward, rewardComponents: score.components, metadata };
  }

  get state() {
    return {
      episodeId: this.episodeId,
      stepCount: this.stepCount,
      messages: this.messages,
      maxTurns: this.maxTurns,
      stopSequences: this.stopSequences,
    };
  }

  private observe(feedback: string): MessageShape<Obs> {
    return create(ChatObservationSchema, {
      messages: [...this.messages],
      turn: this.turn,
      turnsRemaining: Math.max(0, this.maxTurns - this.turn),
      stopReason: this.stopReason,
      judgeFeedback: feedback,
    });
  }
}

function hasKey(object: JsonObject, ...keys: string[]): boolean {
  return keys.some((k) => Object.hasOwn(object, k));
}
