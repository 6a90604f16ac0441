import { ChatClient, type ChatMessage } from "../../agent/chat.js";
import { Rubric, type RubricContext } from "./rubric.js";

/** Options of {@link LLMJudge}. */
export interface LLMJudgeOptions<A, O> {
  /**
   * The prompt. `{name}` placeholders are replaced by the variables (by
   * default `{action}` and `{observation}` as JSON); unknown placeholders and
   * other braces are left as they are.
   */
  readonly promptTemplate: string;
  /** Builds the template variables; default `{ action, observation }` as JSON. */
  readonly variables?: (action: A, observation: O, context: RubricContext) => Record<string, string>;
  /**
   * Base URL of an OpenAI-compatible API, e.g. `http://127.0.0.1:8080/v1`;
   * `/chat/completions` is appended. Default: `OPENENV_JUDGE_BASE_URL`, then
   * `OPENAI_BASE_URL`, then `https://api.openai.com/v1`.
   */
  readonly baseUrl?: string;
  /** Model name. Default: `OPENENV_JUDGE_MODEL`, then `gpt-4o-mini`. */
  readonly model?: string;
  /** API key sent as a bearer token. Default: `OPENENV_JUDGE_API_KEY`, then `OPENAI_API_KEY`; none when unset. */
  readonly apiKey?: string;
  /** A system message sent before the prompt. */
  readonly systemPrompt?: string;
  /** Sampling temperature; default 0. */
  readonly temperature?: number;
  /** `max_tokens` of the request; unset by default. */
  readonly maxTokens?: number;
  /** Deadline of one evaluation, retries included; default 30 s. */
  readonly timeoutMs?: number;
  /** Extra attempts after a network error, HTTP 429 or 5xx; default 1. */
  readonly retries?: number;
  /** The top of the judge's scale: scores are divided by it (e.g. 10 for "rate 0 to 10"). Default 1. */
  readonly scale?: number;
  /** A custom pattern whose first group is the score; tried before the built-in parsing. */
  readonly scorePattern?: RegExp;
  /** Score when the judge fails or its answer has no score; default 0. */
  readonly defaultScore?: number;
  /** Clamp scores to [0, 1]; default true. */
  readonly normalize?: boolean;
  /** On failure (timeout, HTTP error, no score): `"default"` returns `defaultScore` (default), `"throw"` rejects. */
  readonly onError?: "default" | "throw";
  /** The fetch implementation; default the global one. */
  readonly fetch?: typeof fetch;
}

/** Default template: asks for a JSON verdict with a score between 0 and 1. */
export const defaultJudgeTemplate = `You are grading the response of an AI agent.

Observation:
{observation}

Action:
{action}

Rate the action from 0 (useless or wrong) to 1 (excellent).
Answer with JSON only: {"score": <number between 0 and 1>, "reason": "<one sentence>"}`;

/** A parsed verdict. */
export interface JudgeVerdict {
  /** The score on the judge's scale (a fraction like 7/10 is already divided). */
  readonly score: number;
  /** The stated reason, when the answer was JSON with a `reason`/`explanation` field. */
  readonly reason: string | undefined;
  /** The answer was a fraction (e.g. "7/10"), so the scale does not apply. */
  readonly fraction: boolean;
}

const number = String.raw`(-?\d+(?:\.\d+)?)`;
const fractionRe = new RegExp(String.raw`${number}\s*(?:\/|out of)\s*(\d+(?:\.\d+)?)`, "gi");
const labelledRe = new RegExp(
  String.raw`\b(?:final\s+)?(?:score|rating|grade)\s*(?:is|[:=])?\s*\**\s*${number}(?:\s*(?:\/|out of)\s*(\d+(?:\.\d+)?))?`,
  "gi",
);
const anyNumberRe = new RegExp(number, "g");

/**
 * Extracts a score from a judge's answer. Tried in order: the custom
 * pattern; a JSON object with `score` (also inside a code fence); the last
 * "score: x" (or "rating"/"grade", optionally "x/y"); the last fraction
 * "x/y" or "x out of y"; the last number. Returns undefined when there is none.
 */
export function parseJudgeScore(text: string, pattern?: RegExp): JudgeVerdict | undefined {
  if (pattern !== undefined) {
    const m = pattern.exec(text);
    pattern.lastIndex = 0;
    if (m?.[1] !== undefined && Number.isFinite(Number(m[1]))) return { score: Number(m[1]), reason: undefined, fraction: false };
  }
  const json = parseJsonVerdict(text);
  if (json !== undefined) return json;
  const labelled = lastMatch(labelledRe, text);
  if (labelled !== undefined) {
    const value = Number(labelled[1]);
    if (labelled[2] !== undefined && Number(labelled[2]) > 0)
      return { score: value / Number(labelled[2]), reason: undefined, fraction: true };
    return { score: value, reason: undefined, fraction: false };
  }
  const fraction = lastMatch(fractionRe, text);
  if (fraction !== undefined && Number(fraction[2]) > 0) {
    return { score: Number(fraction[1]) / Number(fraction[2]), reason: undefined, fraction: true };
  }
  const any = lastMatch(anyNumberRe, text);
  if (any !== undefined) return { score: Number(any[1]), reason: undefined, fraction: false };
  return undefined;
}

function lastMatch(re: RegExp, text: string): RegExpExecArray | undefined {
  let last: RegExpExecArray | undefined;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) last = m;
  return last;
}

function parseJsonVerdict(text: string): JudgeVerdict | undefined {
  const candidates: string[] = [];
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fence) candidates.push(fence[1]);
  const start = text.indexOf("{");
  const end = text.lastIndexOf("}");
  if (start >= 0 && end > start) candidates.push(text.slice(start, end + 1));
  for (const c of candidates) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(c);
    } catch {
      continue;
    }
    if (parsed === null || typeof parsed !== "object") continue;
    const o = parsed as Record<string, unknown>;
    const raw = o.score ?? o.rating ?? o.grade;
    const score = typeof raw === "number" ? raw : typeof raw === "string" ? Number.parseFloat(raw) : Number.NaN;
    if (!Number.isFinite(score)) continue;
    const reason = [o.reason, o.explanation, o.rationale].find((r): r is string => typeof r === "string");
    return { score, reason, fraction: false };
  }
  return undefined;
}

/** Replaces `{name}` placeholders whose name is a key of `vars`; everything else stays. */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => (Object.hasOwn(vars, name) ? vars[name] : whole));
}

/** JSON of an action or observation (generated messages included), for prompts. */
export function toPromptJson(value: unknown): string {
  return JSON.stringify(
    value,
    (key, v: unknown) => {
      if (key === "$typeName") return undefined;
      if (typeof v === "bigint") return v.toString();
      if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
      return v;
    },
    2,
  );
}

/**
 * Grades a step by asking an LLM through an OpenAI-compatible
 * `/chat/completions` endpoint (OpenEnv's `LLMJudge`). Always asynchronous.
 *
 * Failures (timeout, HTTP errors, an answer with no score) give
 * `defaultScore` and are kept in {@link lastError}, unless `onError: "throw"`.
 * A cancelled step (its abort signal) always rejects.
 *
 * @example
 * ```ts
 * const judge = new LLMJudge({ promptTemplate: "Is this polite? {action}\nAnswer 0-10.", scale: 10, baseUrl: "http://127.0.0.1:8080/v1" });
 * ```
 */
export class LLMJudge<A = unknown, O = unknown> extends Rubric<A, O> {
  /** The judge's last raw answer. */
  lastResponse: string | undefined;
  /** The reason the judge gave for its last score, when its answer had one. */
  lastReason: string | undefined;
  /** Why the last evaluation fell back to the default score; undefined when it succeeded. */
  lastError: string | undefined;
  readonly model: string;
  readonly baseUrl: string;
  private readonly chat: ChatClient;

  constructor(private readonly options: LLMJudgeOptions<A, O>) {
    super();
    const env = process.env;
    this.baseUrl = (options.baseUrl ?? env.OPENENV_JUDGE_BASE_URL ?? env.OPENAI_BASE_URL ?? "https://api.openai.com/v1").replace(
      /\/+$/,
      "",
    );
    this.model = options.model ?? env.OPENENV_JUDGE_MODEL ?? "gpt-4o-mini";
    this.chat = new ChatClient({
      baseUrl: this.baseUrl,
      model: this.model,
      apiKey: options.apiKey ?? env.OPENENV_JUDGE_API_KEY ?? env.OPENAI_API_KEY,
      retries: Math.max(0, options.retries ?? 1),
      // The judge's own deadline (timeoutMs) bounds every attempt through the signal.
      timeoutMs: 2 ** 31 - 1,
      fetch: options.fetch,
    });
    if (options.scale !== undefined && !(options.scale > 0)) throw new Error(`LLMJudge: scale must be positive, got ${options.scale}`);
  }

  protected async forward(action: A, observation: O, context: RubricContext): Promise<number> {
    this.lastResponse = undefined;
    this.lastReason = undefined;
    this.lastError = undefined;
    const vars = this.options.variables?.(action, observation, context) ?? {
      action: toPromptJson(action),
      observation: toPromptJson(observation),
    };
    const prompt = renderTemplate(this.options.promptTemplate, vars);
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = context.signal === undefined ? timeout : AbortSignal.any([timeout, context.signal]);
    try {
      const text = await this.complete(prompt, signal);
      this.lastResponse = text;
      const verdict = parseJudgeScore(text, this.options.scorePattern);
      if (verdict === undefined) throw new Error(`the judge's answer has no score: ${JSON.stringify(text.slice(0, 200))}`);
      this.lastReason = verdict.reason;
      const scaled = verdict.fraction ? verdict.score : verdict.score / (this.options.scale ?? 1);
      return this.options.normalize === false ? scaled : Math.min(1, Math.max(0, scaled));
    } catch (err) {
      if (context.signal?.aborted) throw context.signal.reason;
      const message = timeout.aborted
        ? `the judge did not answer within ${timeoutMs} ms`
        : err instanceof Error
          ? err.message
          : String(err);
      if (this.options.onError === "throw") throw new Error(`LLMJudge: ${message}`);
      this.lastError = message;
      return this.options.defaultScore ?? 0;
    }
  }

  /** Sends the prompt and returns the answer text (the chat client retries transient failures). */
  private async complete(prompt: string, signal: AbortSignal): Promise<string> {
    const messages: ChatMessage[] = [
      ...(this.options.systemPrompt === undefined ? [] : [{ role: "system" as const, content: this.options.systemPrompt }]),
      { role: "user", content: prompt },
    ];
    const answer = await this.chat.complete({
      messages,
      temperature: this.options.temperature ?? 0,
      maxTokens: this.options.maxTokens,
      signal,
    });
    const content = answer.message.content;
    if (typeof content !== "string") throw new Error("the judge's response has no choices[0].message.content");
    return content;
  }

  protected override params() {
    return { model: this.model };
  }
}
