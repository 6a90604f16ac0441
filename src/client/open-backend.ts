import type { Registry } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { type DescribeResponse, EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import { HttpBackend, WebSocketBackend } from "../openenv/client/backends.js";
import { OpenEnvHttp, OpenEnvSocket, webSocketUrl } from "../openenv/client/connection.js";
import { jsonRegistry } from "../protocol/descriptors.js";
import type { EnvBackend } from "./backend.js";
import { describeOverHttp1, schemasFromDescribe } from "./describe.js";
import type { EnvClientOptions, EnvClientSpec, EnvTransportKind } from "./env-client-options.js";
import { speaksHttp2 } from "./http2-probe.js";
import { openRetryPolicy, retryPolicy, withSession } from "./retry-policy.js";
import { RpcBackend } from "./rpc-backend.js";
import { createTransport, type OwnedTransport, type RpcTransportKind } from "./transports.js";

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
 * How an `EnvClient` connects: chooses the protocol (in `"auto"`, the bidi Step
 * stream when the server speaks HTTP/2, else OpenEnv's `/ws`, else its HTTP
 * routes), reads the server's Describe (checking or learning the schemas), and
 * opens the backend. Holds the connection it created.
 */
export class BackendOpener {
  /** The server's description, once read. */
  info: DescribeResponse | undefined;
  /** The schemas in use: given, or learned from Describe. */
  spec: EnvClientSpec | undefined;
  /** The connection this opener created (not a shared one), to close with the client. */
  owned: OwnedTransport | undefined;
  private rpc: Client<typeof EnvironmentService> | undefined;
  /** The owned transport was built before the schemas were known, so it has no JSON registry for `Any`. */
  private registryMissing = false;

  constructor(
    private readonly options: EnvClientOptions,
    private readonly kind: EnvTransportKind | "custom",
  ) {
    this.spec = options.spec;
  }

  /** The generated Connect client over the RPC transport (created on first use). */
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

  /** The JSON registry of the schemas, once known. */
  registry(): Registry | undefined {
    const s = this.spec;
    return s === undefined ? undefined : jsonRegistry([s.action, s.observation, s.state, s.partial]);
  }

  async open(): Promise<EnvBackend> {
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
        const e = ConnectError.from(err, Code.Internal);
        if (!FALL_BACK.includes(e.code)) throw e;
        // Not aborted: after a failed connect the HTTP/2 session may be failing right now (see EnvClient.close).
        this.owned = undefined;
        this.rpc = undefined;
        return this.openFallback(fallback, [e]);
      }
    }
    return this.openFallback(fallback, [h2]);
  }

  private defaultRpcKind(): RpcTransportKind {
    return this.options.baseUrl === undefined && this.options.router !== undefined ? "in-process" : "connect";
  }

  /** The bidi Step stream: Describe first (always in auto mode, which must know the service is there). */
  private async openRpc(kind: string, probe: boolean): Promise<EnvBackend> {
    const rpc = this.client();
    if (probe || this.spec === undefined || this.options.verify !== false) {
      const info = await rpc.describe({}, { headers: this.options.headers, timeoutMs: probe ? this.options.probeTimeoutMs : undefined });
      this.adoptInfo(info);
    }
    return new RpcBackend({
      transport: kind,
      rpc: this.withRegistry(rpc),
      schemas: this.schemas(),
      headers: this.options.headers,
      stepTimeoutMs: this.options.stepTimeoutMs,
      connection: this.owned ?? this.options.connection,
      fastPath: this.options.fastPath,
      retry: this.options.retry,
      onReconnect: this.options.onReconnect,
      sessionId: this.options.sessionId,
      keepSession: this.options.keepSession,
      openRetry: this.options.openRetry,
    });
  }

  /** Connect JSON carries the env's messages in `Any`: rebuild a transport made before Describe taught us their schemas. */
  private withRegistry(rpc: Client<typeof EnvironmentService>): Client<typeof EnvironmentService> {
    if (!this.registryMissing || this.owned?.kind !== "connect-json") return rpc;
    this.owned.close();
    this.owned = undefined;
    this.rpc = undefined;
    return this.client();
  }

  /** OpenEnv's protocol: schemas from the spec or from Describe over HTTP/1.1; then `/ws`, then HTTP. */
  private async openFallback(kinds: readonly ("websocket" | "http")[], causes: ConnectError[]): Promise<EnvBackend> {
    const baseUrl = this.options.baseUrl;
    if (baseUrl === undefined) throw new TypeError(`the ${kinds.join("/")} transport needs a baseUrl`);
    const timeoutMs = this.options.probeTimeoutMs ?? 5_000;
    const described = await describeOverHttp1(baseUrl, this.options, timeoutMs).then(
      (info) => info,
      (err: unknown) => ConnectError.from(err, Code.Internal),
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
    const spec = this.schemas();
    const registry = this.registry();
    const connection = { headers: this.options.headers, maxMessageBytes: this.options.maxMessageBytes, connectTimeoutMs: timeoutMs };
    const errors = [...causes];
    const retry = retryPolicy(this.options.retry);
    const openRetry = openRetryPolicy(this.options.openRetry);
    // `resumable`: a broken socket leaves the session waiting for a resume (our servers; OpenEnv's ignore it).
    const query = retry.attempts > 0 ? "/ws?extensions=1&resumable=1" : "/ws?extensions=1";
    const openSocket = (sessionId: string | undefined): Promise<OpenEnvSocket> =>
      sessionId === undefined
        ? OpenEnvSocket.connect(webSocketUrl(baseUrl, query), connection)
        : OpenEnvSocket.connect(webSocketUrl(baseUrl, `${query}&session_id=${encodeURIComponent(sessionId)}`), {
            ...connection,
            headers: withSession(connection.headers, sessionId),
          });
    for (const kind of kinds) {
      try {
        if (kind === "websocket") {
          if (this.options.sessionId !== undefined) {
            throw new ConnectError(
              `cannot continue session '${this.options.sessionId}' over OpenEnv's /ws: a WebSocket session lives as long as its socket (use transport "http")`,
              Code.FailedPrecondition,
            );
          }
          const socket = await openSocket(undefined);
          return new WebSocketBackend(socket, spec, registry, {
            open: openSocket,
            retry,
            openRetry,
            onReconnect: this.options.onReconnect,
          });
        }
        const httpApi = new OpenEnvHttp(baseUrl, connection);
        await httpApi.get("/health", {}, timeoutMs);
        return new HttpBackend(httpApi, spec, registry, {
          sessionId: this.options.sessionId,
          keepSession: this.options.keepSession,
          openRetry,
        });
      } catch (err) {
        const e = ConnectError.from(err, Code.Internal);
        if (e.code === Code.Unauthenticated || e.code === Code.PermissionDenied || e.code === Code.FailedPrecondition) throw e;
        errors.push(e);
      }
    }
    throw new ConnectError(`cannot reach the environment at ${baseUrl}: ${errors.map((e) => e.rawMessage).join("; ")}`, Code.Unavailable);
  }

  private schemas(): EnvClientSpec {
    if (this.spec === undefined) throw new ConnectError("not connected: call connect() first", Code.FailedPrecondition);
    return this.spec;
  }

  private adoptInfo(info: DescribeResponse): void {
    this.info = info;
    if (this.spec === undefined) {
      this.spec = schemasFromDescribe(info);
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
}
