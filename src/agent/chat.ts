import type { JsonObject } from "@bufbuild/protobuf";

/** A tool call an assistant message asks for, in the OpenAI chat format (`arguments` is a JSON string). */
export interface ChatToolCall {
  readonly id: string;
  readonly type: "function";
  readonly function: { readonly name: string; readonly arguments: string };
}

/** A message of an OpenAI-compatible chat. */
export type ChatMessage =
  | { readonly role: "system" | "user"; readonly content: string }
  | { readonly role: "assistant"; readonly content: string | null; readonly tool_calls?: readonly ChatToolCall[] }
  | { readonly role: "tool"; readonly tool_call_id: string; readonly content: string };

/** A tool offered to the model: OpenAI's function declaration. */
export interface ChatTool {
  readonly type: "function";
  readonly function: { readonly name: string; readonly description: string; readonly parameters: JsonObject };
}

/** One completion request. */
export interface ChatRequest {
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly ChatTool[];
  readonly temperature?: number;
  readonly maxTokens?: number;
  readonly signal?: AbortSignal;
}

/** What the model answered. */
export interface ChatResponse {
  /** The assistant message (content and tool calls). */
  readonly message: Extract<ChatMessage, { role: "assistant" }>;
  /** `finish_reason` of the first choice, e.g. `stop` or `tool_calls`. */
  readonly finishReason: string;
  readonly usage: { readonly promptTokens: number; readonly completionTokens: number };
}

/** Options of {@link ChatClient}. */
export interface ChatClientOptions {
  /** Base URL of the API, e.g. `http://127.0.0.1:8080/v1`; `/chat/completions` is appended. */
  readonly baseUrl: string;
  /** Model name. */
  readonly model: string;
  /** Sent as a bearer token when set. */
  readonly apiKey?: string;
  /** Deadline of one request, retries included. Default 120 s. */
  readonly timeoutMs?: number;
  /** Extra attempts after a network error, HTTP 429 or 5xx. Default 2. */
  readonly retries?: number;
  /** The fetch implementation; default the global one. */
  readonly fetch?: typeof fetch;
}

/** A failed completion; `retryable` for network errors, 429 and 5xx. */
export class ChatError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "ChatError";
  }
}

/**
 * A client of an OpenAI-compatible `/chat/completions` endpoint (OpenAI,
 * vLLM, TGI, Ollama, llama.cpp, ...), with tool calling. Used by the agent
 * loop and by `LLMJudge`.
 */
export class ChatClient {
  readonly baseUrl: string;
  readonly model: string;

  constructor(private readonly options: ChatClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.model = options.model;
  }

  /** Asks for one completion, retrying transient failures. */
  async complete(request: ChatRequest): Promise<ChatResponse> {
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = request.signal === undefined ? timeout : AbortSignal.any([timeout, request.signal]);
    const attempts = 1 + Math.max(0, this.options.retries ?? 2);
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        return await this.request(request, signal);
      } catch (err) {
        lastError = err;
        if (signal.aborted) {
          if (request.signal?.aborted) throw request.signal.reason;
          throw new ChatError(`the model did not answer within ${timeoutMs} ms`, false);
        }
        if (err instanceof ChatError && !err.retryable) throw err;
      }
    }
    throw lastError;
  }

  private async request(request: ChatRequest, signal: AbortSignal): Promise<ChatResponse> {
    const body: Record<string, unknown> = { model: this.model, messages: request.messages, temperature: request.temperature ?? 0 };
    if (request.tools !== undefined && request.tools.length > 0) {
      body.tools = request.tools;
      body.tool_choice = "auto";
    }
    if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.options.apiKey !== undefined && this.options.apiKey !== "") headers.authorization = `Bearer ${this.options.apiKey}`;
    const url = `${this.baseUrl}/chat/completions`;
    let res: Response;
    try {
      res = await (this.options.fetch ?? fetch)(url, { method: "POST", headers, body: JSON.stringify(body), signal });
    } catch (err) {
      throw new ChatError(`request to ${url} failed: ${err instanceof Error ? err.message : String(err)}`, true);
    }
    const text = await res.text();
    if (!res.ok)
      throw new ChatError(`the model answered HTTP ${res.status}: ${text.slice(0, 200)}`, res.status === 429 || res.status >= 500);
    let parsed: {
      choices?: { message?: { content?: unknown; tool_calls?: unknown }; finish_reason?: unknown }[];
      usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
    };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new ChatError(`the model's response is not JSON: ${text.slice(0, 200)}`, false);
    }
    const choice = parsed.choices?.[0];
    const message = choice?.message;
    if (message === undefined) throw new ChatError("the model's response has no choices[0].message", false);
    const content = typeof message.content === "string" ? message.content : null;
    const toolCalls = Array.isArray(message.tool_calls) ? message.tool_calls.map(toolCallOf) : [];
    return {
      message: toolCalls.length > 0 ? { role: "assistant", content, tool_calls: toolCalls } : { role: "assistant", content },
      finishReason: typeof choice?.finish_reason === "string" ? choice.finish_reason : "",
      usage: {
        promptTokens: typeof parsed.usage?.prompt_tokens === "number" ? parsed.usage.prompt_tokens : 0,
        completionTokens: typeof parsed.usage?.completion_tokens === "number" ? parsed.usage.completion_tokens : 0,
      },
    };
  }
}

let callCounter = 0;

function toolCallOf(raw: unknown): ChatToolCall {
  const c = (raw ?? {}) as { id?: unknown; function?: { name?: unknown; arguments?: unknown } };
  const args = c.function?.arguments;
  return {
    // Some servers send no id; tool messages need one to answer the call.
    id: typeof c.id === "string" && c.id !== "" ? c.id : `call_${++callCounter}`,
    type: "function",
    function: {
      name: typeof c.function?.name === "string" ? c.function.name : "",
      arguments: typeof args === "string" ? args : JSON.stringify(args ?? {}),
    },
  };
}
