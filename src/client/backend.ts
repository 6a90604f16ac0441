import type { DescMessage, JsonObject, Message, MessageShape } from "@bufbuild/protobuf";

/** Reset parameters. */
export interface ResetParams {
  /** Seed of the environment's random generator. */
  readonly seed?: number | bigint | undefined;
  /** Episode id to use; the server generates one otherwise. */
  readonly episodeId?: string | undefined;
  /** Environment-specific options (OpenEnv's extra reset kwargs). */
  readonly options?: JsonObject | undefined;
  /** Deadline of this reset. */
  readonly timeoutMs?: number | undefined;
}

/** Per-step options. */
export interface StepParams<P extends DescMessage = DescMessage> {
  /** Deadline of this step. */
  readonly timeoutMs?: number | undefined;
  /** Called with each partial observation the environment emits before the result (RPC transports only). */
  readonly onPartial?: ((partial: MessageShape<P>, progress: number | undefined) => void) | undefined;
}

/**
 * The result of a step or reset, with a typed observation. (The contract's
 * `openenv.v1.StepResult` is its wire form.)
 */
export interface EnvStepResult<O extends DescMessage = DescMessage> {
  readonly observation: MessageShape<O>;
  /** The reward, or undefined when the environment gives none. */
  readonly reward: number | undefined;
  /** `terminated || truncated`. */
  readonly done: boolean;
  /** The episode reached a terminal state of the task. */
  readonly terminated: boolean;
  /** The episode was cut short (e.g. a step limit). */
  readonly truncated: boolean;
  readonly metadata: JsonObject;
  /** Named reward components (rubric scores). */
  readonly rewardComponents: Readonly<Record<string, number>>;
  readonly stepCount: number;
  readonly episodeId: string;
}

/**
 * How an `EnvClient` talks to its session: the bidi Step stream (Connect,
 * gRPC, gRPC-Web, in-process), OpenEnv's `/ws`, or OpenEnv's HTTP routes. Each
 * returns the same typed results.
 */
export interface EnvBackend {
  /** The protocol in use, e.g. `connect`, `websocket`, `http`. */
  readonly transport: string;
  /** The server-side session, when the protocol reveals it. */
  readonly sessionId: string | undefined;
  reset(params: ResetParams): Promise<EnvStepResult>;
  step(action: Message, params: StepParams): Promise<EnvStepResult>;
  state(): Promise<Message>;
  /** Ends the session and releases the connection. */
  close(): Promise<void>;
}

/**
 * HTTP headers as the client options take them: a record, `[name, value]`
 * pairs or a `Headers` object (the DOM's `HeadersInit`, spelled with types
 * that `@types/node` has, so declarations compile without the DOM lib).
 */
export type HeaderValues = Record<string, string> | [string, string][] | Headers;
