import type { DescMessage } from "@bufbuild/protobuf";
import type { Interceptor, Transport } from "@connectrpc/connect";
import type { EnvironmentSpec } from "../server/environment.js";
import type { EnvironmentRouter } from "../server/router.js";
import type { HeaderValues } from "./backend.js";
import type { OpenRetryPolicy } from "./retry-policy.js";
import type { ReconnectEvent, RetryPolicy } from "./rpc-backend.js";
import type { OwnedTransport, RpcTransportKind } from "./transports.js";

/** The schemas a typed client needs: an environment's spec, or just its message schemas. */
export type EnvClientSpec<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> = Pick<EnvironmentSpec<A, O, S, P>, "action" | "observation" | "state" | "partial">;

/**
 * How an {@link EnvClient} reaches its server:
 * - `"auto"` (default): the bidi Step stream over HTTP/2 when the server speaks
 *   it, else OpenEnv's WebSocket `/ws`, else OpenEnv's HTTP routes;
 * - `"connect"`, `"connect-json"`, `"grpc"`, `"grpc-web"`: that RPC protocol over HTTP/2;
 * - `"in-process"`: the server's router in this process, no network;
 * - `"websocket"`, `"http"`: OpenEnv's own protocol (also reaches OpenEnv's Python servers).
 */
export type EnvTransportKind = "auto" | RpcTransportKind | "websocket" | "http";

/** Options of {@link EnvClient}. */
export interface EnvClientOptions<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> {
  /** Server URL, e.g. `http://127.0.0.1:8000`. */
  readonly baseUrl?: string;
  /** The generated schemas of the environment; omit to learn them from the server's Describe. */
  readonly spec?: EnvClientSpec<A, O, S, P>;
  /** Protocol (see {@link EnvTransportKind}; default `"auto"`), or a ready Connect `Transport`. */
  readonly transport?: EnvTransportKind | Transport;
  /**
   * An RPC connection shared with other clients (see `VectorEnv`): many sessions
   * multiplexed over one HTTP/2 connection. The client does not close it.
   */
  readonly connection?: OwnedTransport;
  /** Write binary Step streams directly on the HTTP/2 connection rather than through connect-node's client. Default true. */
  readonly fastPath?: boolean;
  /**
   * Resuming after a broken Step stream (RPC transports): the session is re-attached
   * on a new stream and the interrupted request re-sent with its request id, so it is
   * never applied twice. Default 5 attempts with exponential backoff; `false` disables.
   */
  readonly retry?: RetryPolicy | false;
  /** Called each time the client resumes its session on a new stream. */
  readonly onReconnect?: (event: ReconnectEvent) => void;
  /**
   * Opening the session again when the server refuses it because it is full
   * (RESOURCE_EXHAUSTED) or draining (UNAVAILABLE): each attempt is a new request,
   * which a load balancer may send to another replica. Default 3 retries with
   * exponential backoff from 50 ms; `false` disables.
   */
  readonly openRetry?: OpenRetryPolicy | false;
  /** For `"in-process"`: the server's router (see `createEnvironmentRouter`). */
  readonly router?: EnvironmentRouter;
  /** Connect interceptors (e.g. to add an auth header). RPC transports only. */
  readonly interceptors?: Interceptor[];
  /** Headers sent with every call, on every transport. */
  readonly headers?: HeaderValues;
  /** Deadline of each step and reset, sent to the server. Default: the server's. */
  readonly stepTimeoutMs?: number;
  /** Check on connect that the server serves these message types. Default true. */
  readonly verify?: boolean;
  /** `"auto"`: how long each probe (HTTP/2, then Describe over HTTP/1.1) may take. Default 5 s. */
  readonly probeTimeoutMs?: number;
  /** Largest WebSocket frame accepted from the server. Default 100 MiB, as OpenEnv's client. */
  readonly maxMessageBytes?: number;
  /**
   * Continue a session opened earlier (by another client or process) instead of
   * opening one: the first call attaches to it. RPC transports and OpenEnv's
   * stateful HTTP; a `/ws` session lives only as long as its socket.
   */
  readonly sessionId?: string;
  /**
   * Leave the session open on the server when this client closes, for another
   * client to continue (`sessionId`) or end; the server's idle timeout still
   * applies. RPC transports and HTTP; not `/ws`.
   */
  readonly keepSession?: boolean;
}
