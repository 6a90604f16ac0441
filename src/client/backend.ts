import type { DescMessage, JsonObject, Message, MessageShape } from "@bufbuild/protobuf";

/** Reset parameters as a backend receives them. */
export interface BackendReset {
  readonly seed?: number | bigint | undefined;
  readonly episodeId?: string | undefined;
  readonly options?: JsonObject | undefined;
  readonly timeoutMs?: number | undefined;
}

/** Step parameters as a backend receives them. */
export interface BackendStep {
  readonly timeoutMs?: number | undefined;
  /** Partial observations (only the RPC backend has them). */
  readonly onPartial?: ((partial: Message, progress: number | undefined) => void) | undefined;
}

/** What a backend returns for a step or reset: the typed result of {@link EnvClient}. */
export interface BackendResult {
  readonly observation: MessageShape<DescMessage>;
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
 * How an {@link EnvClient} talks to its session: the bidi Step stream
 * (Connect, gRPC, gRPC-Web, in-process), OpenEnv's `/ws`, or OpenEnv's HTTP
 * routes. Each returns the same typed results.
 */
export interface EnvBackend {
  /** The protocol in use, e.g. `connect`, `websocket`, `http`. */
  readonly transport: string;
  /** The server-side session, when the protocol reveals it. */
  readonly sessionId: string | undefined;
  reset(params: BackendReset): Promise<BackendResult>;
  step(action: Message, params: BackendStep): Promise<BackendResult>;
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
