import * as http2 from "node:http2";
import {
  create,
  type DescMessage,
  isMessage,
  type JsonObject,
  type Message,
  type MessageInitShape,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type DescribeResponse, EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import { jsonRegistry, registryFromFileSet } from "../protocol/descriptors.js";
import { enumNamesToNumbers, hasEnumFields } from "../protocol/enum-names.js";
import { toConnectError } from "../protocol/errors.js";
import type { EnvironmentSpec } from "../server/environment.js";
import type { EnvironmentRouter } from "../server/router.js";
import type { BackendResult, EnvBackend, HeaderValues } from "./backend.js";
import { HttpBackend, WebSocketBackend } from "./openenv-backends.js";
import { OpenEnvHttp, OpenEnvSocket, webSocketUrl } from "./openenv-connection.js";
import { type RolloutOptions, type RolloutStep, rollout } from "./rollout.js";
import { type ReconnectEvent, type RetryPolicy, RpcBackend } from "./rpc-backend.js";
import { createTransport, type OwnedTransport, type RpcTransportKind } from "./transports.js";

export type { HeaderValues } from "./backend.js";
export { toResult, unpack } from "./rpc-backend.js";

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

/** Reset parameters. */
export interface ResetParams {
  /** Seed of the environment's random generator. */
  readonly seed?: number | bigint;
  /** Episode id to use; the server generates one otherwise. */
  readonly episodeId?: string;
  /** Environment-specific options (OpenEnv's extra reset kwargs). */
  readonly options?: JsonObject;
  /** Deadline of this reset. */
  readonly timeoutMs?: number;
}

/** Per-step options. */
export interface StepParams<P extends DescMessage = DescMessage> {
  /** Deadline of this step. */
  readonly timeoutMs?: number;
  /** Called with each partial observation the environment emits before the result (RPC transports only). */
  readonly onPartial?: (partial: MessageShape<P>, progress: number | undefined) => void;
}

/** The result of a step or reset, with a typed observation (the backends' result, typed). */
export interface StepResult<O extends DescMessage = DescMessage> extends Omit<BackendResult, "observation"> {
  readonly observation: MessageShape<O>;
}

const RPC_KINDS: readonly string[] = ["connect", "connect-json", "grpc", "grpc-web", "in-process"];

/** Codes after which `"auto"` tries OpenEnv's protocol: the server does not serve the Step stream here. */
const FALL_BACK: readonly Code[] = [
  Code.Unavailable,
  Code.Unknown,
  Code.Internal,
  Code.Unimplemented,
  Code.DeadlineExceeded,
  Code.Canceled,
];

/**
 * A typed client of one environment session: over one bidirectional Step
 * stream, or over OpenEnv's WebSocket or HTTP protocol when the server (an
 * HTTP/1.1-only path, an OpenEnv Python server) does not speak HTTP/2. Results
 * are the same typed messages whichever transport is used; {@link transport}
 * says which one was chosen.
 *
 * @example
 * ```ts
 * await using env = await EnvClient.connect({ baseUrl: "http://127.0.0.1:8000", spec: echoSpec });
 * await env.reset({ seed: 1 });
 * const r = await env.step({ message: "hi" });
 * console.log(r.observation.echoedMessage, r.reward, env.transport);
 * ```
 */
export class EnvClient<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> implements AsyncDisposable
{
  /** The server's description, once connected (undefined for servers that have none, e.g. OpenEnv's). */
  info: DescribeResponse | undefined;
  private spec: EnvClientSpec<A, O, S, P> | undefined;
  private owned: OwnedTransport | undefined;
  private rpc: Client<typeof EnvironmentService> | undefined;
  private backend: EnvBackend | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  /** The owned transport was built before the schemas were known, so it has no JSON registry for `Any`. */
  private registryMissing = false;
  private readonly kind: EnvTransportKind | "custom";

  constructor(private readonly options: EnvClientOptions<A, O, S, P>) {
    this.spec = options.spec;
    const t = options.transport;
    this.kind = options.connection?.kind ?? (typeof t === "string" ? t : t === undefined ? "auto" : "custom");
  }

  /** Creates a client and connects it. */
  static async connect<
    A extends DescMessage = DescMessage,
    O extends DescMessage = DescMessage,
    S extends DescMessage = DescMessage,
    P extends DescMessage = DescMessage,
  >(options: EnvClientOptions<A, O, S, P>): Promise<EnvClient<A, O, S, P>> {
    const client = new EnvClient(options);
    await client.connect();
    return client;
  }

  /** The session this client drives (after the first reset; not known over an OpenEnv Python server). */
  get sessionId(): string | undefined {
    return this.backend?.sessionId;
  }

  /** The protocol in use: `connect`, `grpc`, `grpc-web`, `in-process`, `websocket`, `http`, ... (`auto` before connecting). */
  get transport(): string {
    return this.backend?.transport ?? this.kind;
  }

  /** How many times the client resumed its session on a new stream after a break. */
  get reconnects(): number {
    return this.backend instanceof RpcBackend ? this.backend.reconnects : 0;
  }

  /** The schemas in use (given, or learned from Describe). */
  get schemas(): EnvClientSpec<A, O, S, P> {
    if (this.spec === undefined) throw new ConnectError("not connected: call connect() first", Code.FailedPrecondition);
    return this.spec;
  }

  /** Chooses the transport, reads the server's Describe (checking the message types unless `verify: false`). */
  async connect(): Promise<this> {
    if (this.closed) throw new ConnectError("the client is closed", Code.FailedPrecondition);
    this.connecting ??= this.open().catch((err: unknown) => {
      this.connecting = undefined;
      throw err;
    });
    await this.connecting;
    return this;
  }

  /** Starts a new episode (opening a session on the first call) and returns its first observation. */
  async reset(params: ResetParams = {}): Promise<StepResult<O>> {
    const backend = await this.ready();
    return (await backend.reset(params)) as StepResult<O>;
  }

  /** Applies one action: a message or a plain object of the Action's fields. */
  async step(action: MessageShape<A> | MessageInitShape<A>, params: StepParams<P> = {}): Promise<StepResult<O>> {
    const backend = await this.ready();
    const onPartial = params.onPartial;
    const result = await backend.step(this.toAction(action), {
      timeoutMs: params.timeoutMs,
      onPartial: onPartial === undefined ? undefined : (p, progress) => onPartial(p as MessageShape<P>, progress),
    });
    return result as StepResult<O>;
  }

  /** The session's typed state. */
  async state(): Promise<MessageShape<S>> {
    const backend = await this.ready();
    return (await backend.state()) as MessageShape<S>;
  }

  /** Ends the session and releases the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => {});
    const backend = this.backend;
    try {
      await backend?.close();
    } finally {
      // After a failed connect the HTTP/2 session may be failing right now; aborting it then
      // makes connect-node drop its error listener and the late 'error' would crash the
      // process. Left alone, it is unref'd and closes on its idle timeout.
      if (backend !== undefined) this.owned?.close();
    }
  }

  /**
   * Runs episodes with a policy, yielding every transition as it happens:
   * `for await (const t of env.rollout(policy)) ...`. Resets before each episode,
   * stops at its end or after `maxSteps`.
   */
  rollout(
    policy: (
      observation: MessageShape<O>,
      last: StepResult<O>,
    ) => MessageShape<A> | MessageInitShape<A> | PromiseLike<MessageShape<A> | MessageInitShape<A>>,
    options: RolloutOptions = {},
  ): AsyncGenerator<RolloutStep<A, O>, void, undefined> {
    return rollout(this, policy, options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The underlying generated Connect client, for calls this class does not wrap. */
  client(): Client<typeof EnvironmentService> {
    if (this.rpc === undefined) {
      const t = this.options.transport;
      const shared = this.options.connection;
      if (shared !== undefined) {
        this.rpc = createClient(EnvironmentService, shared.transport);
      } else if (typeof t === "object") {
        this.rpc = createClient(EnvironmentService, t);
      } else {
        const kind = t !== undefined && RPC_KINDS.includes(t) ? (t as RpcTransportKind) : this.defaultRpcKind();
        const registry = this.registry();
        this.registryMissing = registry === undefined;
        this.owned = createTransport({
          kind,
          baseUrl: this.options.baseUrl,
          router: this.options.router,
          interceptors: this.options.interceptors,
          registry,
        });
        this.rpc = createClient(EnvironmentService, this.owned.transport);
      }
    }
    return this.rpc;
  }

  private defaultRpcKind(): RpcTransportKind {
    return this.options.baseUrl === undefined && this.options.router !== undefined ? "in-process" : "connect";
  }

  private registry(): Registry | undefined {
    const s = this.spec;
    return s === undefined ? undefined : jsonRegistry([s.action, s.observation, s.state, s.partial]);
  }

  private async ready(): Promise<EnvBackend> {
    if (this.closed) throw new ConnectError("the client is closed", Code.FailedPrecondition);
    if (this.backend === undefined) await this.connect();
    return this.backend as EnvBackend;
  }

  private async open(): Promise<void> {
    const kind = this.kind;
    if (kind === "custom" || RPC_KINDS.includes(kind)) return this.openRpc(kind === "custom" ? "custom" : kind, false);
    if (kind === "websocket" || kind === "http") return this.openFallback([kind], []);
    // auto; a session that outlives this client can only be reached again over HTTP, not over /ws.
    const fallback: ("websocket" | "http")[] =
      this.options.sessionId !== undefined || this.options.keepSession === true ? ["http", "websocket"] : ["websocket", "http"];
    if (this.options.baseUrl === undefined) {
      if (this.options.router !== undefined) return this.openRpc("in-process", false);
      throw new TypeError("EnvClient needs a baseUrl (or a router with transport 'in-process')");
    }
    const probe = this.options.probeTimeoutMs ?? 5_000;
    const h2 = await speaksHttp2(this.options.baseUrl, probe);
    if (h2 === true) {
      try {
        return await this.openRpc("connect", true);
      } catch (err) {
        const e = toConnectError(err);
        if (!FALL_BACK.includes(e.code)) throw e;
        this.releaseRpc();
        return this.openFallback(fallback, [e]);
      }
    }
    return this.openFallback(fallback, [h2]);
  }

  /** The bidi Step stream: Describe first (always in auto mode, which must know the service is there). */
  private async openRpc(kind: string, probe: boolean): Promise<void> {
    const rpc = this.client();
    if (probe || this.spec === undefined || this.options.verify !== false) {
      const info = await rpc.describe({}, { headers: this.options.headers, timeoutMs: probe ? this.options.probeTimeoutMs : undefined });
      this.adoptInfo(info);
    }
    const spec = this.schemas;
    this.backend = new RpcBackend({
      transport: kind,
      rpc: this.withRegistry(rpc),
      schemas: spec,
      headers: this.options.headers,
      stepTimeoutMs: this.options.stepTimeoutMs,
      connection: this.owned ?? this.options.connection,
      fastPath: this.options.fastPath,
      retry: this.options.retry,
      onReconnect: this.options.onReconnect,
      sessionId: this.options.sessionId,
      keepSession: this.options.keepSession,
    });
  }

  /** Connect JSON carries the env's messages in `Any`: rebuild a transport made before Describe taught us their schemas. */
  private withRegistry(rpc: Client<typeof EnvironmentService>): Client<typeof EnvironmentService> {
    if (!this.registryMissing || this.owned?.kind !== "connect-json") return rpc;
    this.owned.close();
    this.releaseRpc();
    return this.client();
  }

  private releaseRpc(): void {
    // Not aborted, for the reason given in close().
    this.owned = undefined;
    this.rpc = undefined;
  }

  /** OpenEnv's protocol: schemas from the spec or from Describe over HTTP/1.1; then `/ws`, then HTTP. */
  private async openFallback(kinds: readonly ("websocket" | "http")[], causes: ConnectError[]): Promise<void> {
    const baseUrl = this.options.baseUrl;
    if (baseUrl === undefined) throw new TypeError(`the ${kinds.join("/")} transport needs a baseUrl`);
    const timeoutMs = this.options.probeTimeoutMs ?? 5_000;
    const described = await describeOverHttp1(baseUrl, this.options, timeoutMs).then(
      (info) => info,
      (err: unknown) => toConnectError(err),
    );
    if (!(described instanceof ConnectError)) {
      if (this.spec !== undefined || this.options.verify !== false) this.adoptInfo(described);
    } else if (described.code === Code.Unauthenticated || described.code === Code.PermissionDenied) {
      throw described;
    } else if (this.spec === undefined) {
      if (described.code === Code.Unavailable) {
        throw new ConnectError(`cannot reach ${baseUrl}: ${[...causes, described].map((c) => c.rawMessage).join("; ")}`, Code.Unavailable);
      }
      throw new ConnectError(
        `the server at ${baseUrl} does not describe its messages (not an openenv-connect server?): pass the environment's spec, or use GenericEnvClient for plain JSON`,
        Code.FailedPrecondition,
      );
    }
    const spec = this.schemas;
    const registry = this.registry();
    const connection = { headers: this.options.headers, maxMessageBytes: this.options.maxMessageBytes, connectTimeoutMs: timeoutMs };
    const errors = [...causes];
    for (const kind of kinds) {
      try {
        if (kind === "websocket") {
          if (this.options.sessionId !== undefined) {
            throw new ConnectError(
              `cannot continue session '${this.options.sessionId}' over OpenEnv's /ws: a WebSocket session lives as long as its socket (use transport "http")`,
              Code.FailedPrecondition,
            );
          }
          const socket = await OpenEnvSocket.connect(webSocketUrl(baseUrl, "/ws?extensions=1"), connection);
          this.backend = new WebSocketBackend(socket, spec, registry);
        } else {
          const httpApi = new OpenEnvHttp(baseUrl, connection);
          await httpApi.get("/health", {}, timeoutMs);
          this.backend = new HttpBackend(httpApi, spec, registry, {
            sessionId: this.options.sessionId,
            keepSession: this.options.keepSession,
          });
        }
        return;
      } catch (err) {
        const e = toConnectError(err);
        if (e.code === Code.Unauthenticated || e.code === Code.PermissionDenied || e.code === Code.FailedPrecondition) throw e;
        errors.push(e);
      }
    }
    throw new ConnectError(`cannot reach the environment at ${baseUrl}: ${errors.map((e) => e.rawMessage).join("; ")}`, Code.Unavailable);
  }

  private adoptInfo(info: DescribeResponse): void {
    this.info = info;
    if (this.spec === undefined) {
      this.spec = schemasFromDescribe(info) as unknown as EnvClientSpec<A, O, S, P>;
      return;
    }
    const want = [this.spec.action.typeName, this.spec.observation.typeName, this.spec.state.typeName];
    const got = [info.actionType, info.observationType, info.stateType];
    if (want.some((w, i) => w !== got[i])) {
      throw new ConnectError(
        `the server at ${this.options.baseUrl ?? "(in-process)"} serves ${got.join(" / ")}, not ${want.join(" / ")}`,
        Code.FailedPrecondition,
      );
    }
  }

  private toAction(action: MessageShape<A> | MessageInitShape<A>): Message {
    const schema: DescMessage = this.schemas.action;
    if (isMessage(action)) {
      const got = (action as Message).$typeName;
      if (got !== schema.typeName) {
        throw new ConnectError(`action: expected type ${schema.typeName}, got '${got}'`, Code.InvalidArgument);
      }
      return action as Message;
    }
    if (!hasEnumFields(schema)) return create(schema, action as MessageInitShape<DescMessage>);
    try {
      // An untyped caller may name enum values as JSON does ("DIRECTION_RIGHT").
      return create(schema, enumNamesToNumbers(schema, action as Record<string, unknown>) as MessageInitShape<DescMessage>);
    } catch (err) {
      throw err instanceof TypeError ? new ConnectError(`action: ${err.message}`, Code.InvalidArgument) : err;
    }
  }
}

/**
 * Whether the server at `baseUrl` answers an HTTP/2 connection preface with its
 * SETTINGS (prior knowledge, h2c; ALPN for https). An HTTP/1.1-only server or
 * proxy answers with an error or closes. Returns the reason when it does not.
 */
export function speaksHttp2(baseUrl: string, timeoutMs: number): Promise<true | ConnectError> {
  return new Promise((resolve) => {
    let session: http2.ClientHttp2Session;
    const finish = (result: true | ConnectError): void => {
      clearTimeout(timer);
      session.removeAllListeners();
      session.on("error", () => {}); // the session may still report the failure after we gave up on it
      session.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish(new ConnectError(`no HTTP/2 answer from ${baseUrl} within ${timeoutMs} ms`, Code.DeadlineExceeded)),
      timeoutMs,
    );
    try {
      session = http2.connect(baseUrl);
    } catch (err) {
      clearTimeout(timer);
      resolve(new ConnectError(`cannot open HTTP/2 to ${baseUrl}: ${String(err)}`, Code.Unavailable));
      return;
    }
    session.once("remoteSettings", () => finish(true));
    session.on("error", (err) => finish(new ConnectError(`${baseUrl} does not speak HTTP/2: ${err.message}`, Code.Unavailable)));
    session.once("close", () => finish(new ConnectError(`${baseUrl} closed the HTTP/2 connection`, Code.Unavailable)));
  });
}

/** Describe as a Connect unary call over HTTP/1.1 (works through HTTP/1.1-only paths). */
async function describeOverHttp1(
  baseUrl: string,
  options: Pick<EnvClientOptions, "headers" | "interceptors">,
  timeoutMs: number,
): Promise<DescribeResponse> {
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: options.interceptors ?? [] });
  return createClient(EnvironmentService, transport).describe({}, { headers: options.headers, timeoutMs });
}

/** The message schemas named by a Describe answer, decoded from its descriptors. */
export function schemasFromDescribe(info: DescribeResponse): EnvClientSpec {
  if (info.descriptors === undefined) throw new ConnectError("Describe returned no descriptors", Code.Internal);
  const registry = registryFromFileSet(info.descriptors);
  const get = (name: string): DescMessage => {
    const m = registry.getMessage(name);
    if (m === undefined) throw new ConnectError(`Describe's descriptors do not define ${name}`, Code.Internal);
    return m;
  };
  return {
    action: get(info.actionType),
    observation: get(info.observationType),
    state: get(info.stateType),
    partial: info.partialType !== "" ? get(info.partialType) : undefined,
  };
}
