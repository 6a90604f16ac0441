import type { DescMessage, JsonObject, JsonValue, Message, Registry } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EnvBackend, EnvStepResult, ResetParams, StepParams } from "../../client/backend.js";
import {
  type OpenRetryPolicy,
  openBackoff,
  type ReconnectEvent,
  type RetryPolicy,
  refusedOpen,
  resumeDelay,
  retryingOpen,
  SESSION_HEADER,
} from "../../client/retry-policy.js";
import type { BackendSchemas } from "../../client/rpc-backend.js";
import { findSessionLost } from "../../protocol/errors.js";
import { isJsonObject } from "../../protocol/json-object.js";
import { decodeOpenEnvJson } from "../json/decode.js";
import { encodeOpenEnvJson } from "../json/encode.js";
import { type OpenEnvHttp, OpenEnvSocket } from "./connection.js";

/** What the client tracks itself when the server does not report it (an OpenEnv Python server). */
interface Episode {
  stepCount: number;
  episodeId: string;
}

/** Reset parameters as OpenEnv reset kwargs. */
export function resetKwargs(params: ResetParams): JsonObject {
  const data: JsonObject = { ...(params.options ?? {}) };
  if (params.seed !== undefined) {
    const n = Number(params.seed);
    data.seed = Number.isSafeInteger(n) ? n : params.seed.toString();
  }
  if (params.episodeId !== undefined) data.episode_id = params.episodeId;
  return data;
}

/** An action as an OpenEnv action object: proto field names, unset fields left out. */
export function actionJson(schema: DescMessage, action: Message, registry?: Registry): JsonObject {
  const json = encodeOpenEnvJson(schema, action, registry);
  for (const [k, v] of Object.entries(json)) if (v === null) delete json[k];
  return json;
}

/** Decodes OpenEnv JSON sent by a server into a message; unknown keys are skipped (newer servers). */
export function decodeFromServer(schema: DescMessage, json: unknown, what: string, registry?: Registry): Message {
  const decoded = decodeOpenEnvJson(schema, json ?? {}, { registry, ignoreUnknownFields: true, rules: false });
  if (!decoded.ok) {
    const first = decoded.errors[0];
    throw new ConnectError(
      `cannot read the server's ${what} as ${schema.typeName}: ${first === undefined ? "" : `${first.loc.join(".")}: ${first.msg}`}`,
      Code.Internal,
    );
  }
  return decoded.message;
}

/** The fields of an OpenEnv step payload around its observation. */
export interface PayloadFields {
  readonly reward: number | undefined;
  readonly done: boolean;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly metadata: JsonObject;
  readonly rewardComponents: Record<string, number>;
}

/**
 * Reads `reward`, `done`, `metadata` (top-level, or the observation's in older servers) and an
 * openenv-connect server's extensions (`terminated`, `truncated`, `reward_components`); a
 * Python server's `done` stands for `terminated`. Rewards may be booleans or integers on `/ws`.
 */
export function payloadFields(data: JsonObject): PayloadFields {
  const done = data.done === true;
  const reward = typeof data.reward === "number" ? data.reward : typeof data.reward === "boolean" ? Number(data.reward) : undefined;
  const nested = isJsonObject(data.observation) && isJsonObject(data.observation.metadata) ? data.observation.metadata : {};
  return {
    reward,
    done,
    terminated: typeof data.terminated === "boolean" ? data.terminated : done,
    truncated: data.truncated === true,
    metadata: isJsonObject(data.metadata) ? data.metadata : nested,
    rewardComponents: isJsonObject(data.reward_components) ? (data.reward_components as Record<string, number>) : {},
  };
}

/** `{"observation", "reward", "done", "metadata", ...}` → the typed result, filling what an OpenEnv server leaves out. */
export function resultFromPayload(schemas: BackendSchemas, data: unknown, episode: Episode, registry?: Registry): EnvStepResult {
  if (!isJsonObject(data)) throw new ConnectError("the server sent a step result that is not an object", Code.Internal);
  const observation = decodeFromServer(schemas.observation, data.observation, "observation", registry);
  if (typeof data.step_count === "number") episode.stepCount = data.step_count;
  if (typeof data.episode_id === "string") episode.episodeId = data.episode_id;
  return { observation, ...payloadFields(data), stepCount: episode.stepCount, episodeId: episode.episodeId };
}

/** What both OpenEnv backends keep: the server's session id (when it reports one) and the episode's counters. */
abstract class OpenEnvBackend {
  protected session: string | undefined;
  protected readonly episode: Episode = { stepCount: 0, episodeId: "" };

  constructor(
    protected readonly schemas: BackendSchemas,
    protected readonly registry: Registry | undefined,
  ) {}

  get sessionId(): string | undefined {
    return this.session;
  }

  /** A reset started a new episode. */
  protected restarted(params: ResetParams): void {
    this.episode.stepCount = 0;
    this.episode.episodeId = params.episodeId ?? "";
  }
}

/** How a {@link WebSocketBackend} opens another socket: to open a session elsewhere, or to resume its own. */
export interface WebSocketReconnect {
  /** Opens `/ws` for a new session, or (with `sessionId`) to resume that one (`?session_id=`). */
  open(sessionId: string | undefined): Promise<OpenEnvSocket>;
  /** Resumes after a broken connection (0 attempts: never). */
  readonly retry: Required<RetryPolicy>;
  /** Opens again when the server refused the session (full, draining). */
  readonly openRetry: Required<OpenRetryPolicy>;
  readonly onReconnect?: ((event: ReconnectEvent) => void) | undefined;
}

/**
 * A session over OpenEnv's WebSocket `/ws`: one socket, one server-side
 * environment. Against an openenv-connect server (which reports the session's
 * id) a broken socket is resumed on a new one (`?session_id=`) and the
 * interrupted frame re-sent with its `request_id`, so it is answered, not
 * applied twice; a session refused for capacity is opened again on a new socket.
 */
export class WebSocketBackend extends OpenEnvBackend implements EnvBackend {
  readonly transport = "websocket";
  /** Sockets re-opened to resume the session after a break. */
  reconnects = 0;
  private answered = false;
  /** The session was lost with its replica: the next request opens a new socket. */
  private lost = false;
  private readonly idPrefix = `${Math.random().toString(36).slice(2, 10)}.`;
  private counter = 0;

  constructor(
    private socket: OpenEnvSocket,
    schemas: BackendSchemas,
    registry?: Registry,
    private readonly reconnect?: WebSocketReconnect,
  ) {
    super(schemas, registry);
  }

  async reset(params: ResetParams): Promise<EnvStepResult> {
    const reply = await this.request({ type: "reset", data: resetKwargs(params) });
    this.restarted(params);
    return this.result(reply);
  }

  async step(action: Message, _params: StepParams): Promise<EnvStepResult> {
    const reply = await this.request({ type: "step", data: actionJson(this.schemas.action, action, this.registry) });
    this.episode.stepCount++;
    return this.result(reply);
  }

  async state(): Promise<Message> {
    const reply = await this.request({ type: "state" });
    if (reply.type !== "state") throw new ConnectError(`expected a state frame, got '${String(reply.type)}'`, Code.Internal);
    return decodeFromServer(this.schemas.state, reply.data, "state", this.registry);
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  private async request(frame: JsonObject): Promise<JsonObject> {
    if (this.lost && this.reconnect !== undefined) {
      // The session ended with its replica: a new socket, for a new session wherever the balancer sends it.
      this.socket = await this.reconnect
        .open(undefined)
        .catch((failed: unknown) => Promise.reject(ConnectError.from(failed, Code.Unavailable)));
      this.lost = false;
      this.answered = false;
    }
    // Request ids only once the server has shown it is ours (an OpenEnv server refuses extra keys).
    const sent = this.session !== undefined && frame.type !== "state" ? { ...frame, request_id: this.nextId() } : frame;
    for (let attempt = 0, reopened = 0; ; attempt++) {
      const socket = this.socket;
      try {
        const reply = await socket.request(sent);
        this.answered = true;
        return reply;
      } catch (err) {
        const e = ConnectError.from(err, Code.Internal);
        if (findSessionLost(e) !== undefined) {
          this.session = undefined;
          this.lost = true;
          void socket.close().catch(() => {});
          throw e;
        }
        const again = this.reconnect;
        if (again === undefined) throw e;
        if (!this.answered && refusedOpen(e) && reopened < again.openRetry.attempts) {
          // Full or draining: a new connection, which a load balancer may send to another replica.
          reopened++;
          attempt--;
          await openBackoff(again.openRetry, reopened);
          this.socket = await again.open(undefined).catch((failed: unknown) => Promise.reject(ConnectError.from(failed, Code.Unavailable)));
          continue;
        }
        const session = this.session;
        if (session === undefined || socket.broken !== e || e.code !== Code.Unavailable || attempt >= again.retry.attempts) throw e;
        await this.resume(again, session, attempt, e);
      }
    }
  }

  /** Waits, then opens a socket that takes the session over (retried within the same attempts). */
  private async resume(again: WebSocketReconnect, session: string, attempt: number, error: ConnectError): Promise<void> {
    const delayMs = resumeDelay(again.retry, attempt);
    this.reconnects++;
    again.onReconnect?.({ attempt: attempt + 1, sessionId: session, error, delayMs });
    await new Promise((r) => setTimeout(r, delayMs));
    try {
      this.socket = await again.open(session);
    } catch (err) {
      // The upgrade failed (the balancer or the replica is not there yet): the next attempt tries again.
      this.socket = OpenEnvSocket.failed(ConnectError.from(err, Code.Unavailable));
    }
  }

  private nextId(): string {
    return `${this.idPrefix}${(this.counter++).toString(36)}`;
  }

  private result(reply: JsonObject): EnvStepResult {
    if (reply.type !== "observation") throw new ConnectError(`expected an observation frame, got '${String(reply.type)}'`, Code.Internal);
    const data = reply.data;
    if (isJsonObject(data) && typeof data.session_id === "string") this.session = data.session_id;
    return resultFromPayload(this.schemas, data, this.episode, this.registry);
  }
}

/**
 * A session over OpenEnv's HTTP routes. Against an openenv-connect server it
 * uses the stateful mode (`OpenEnv-Session-Id`); an OpenEnv Python server
 * ignores that header and answers statelessly, a fresh environment per call.
 */
export class HttpBackend extends OpenEnvBackend implements EnvBackend {
  readonly transport = "http";
  private readonly keepSession: boolean;
  private readonly openRetry: Required<OpenRetryPolicy>;

  constructor(
    private readonly http: OpenEnvHttp,
    schemas: BackendSchemas,
    registry?: Registry,
    options: {
      readonly sessionId?: string | undefined;
      readonly keepSession?: boolean | undefined;
      readonly openRetry?: Required<OpenRetryPolicy> | undefined;
    } = {},
  ) {
    super(schemas, registry);
    this.session = options.sessionId;
    this.keepSession = options.keepSession === true;
    this.openRetry = options.openRetry ?? { attempts: 0, backoffMs: 0 };
  }

  /** True when the server keeps no session between calls (an OpenEnv server's plain HTTP API). */
  get stateless(): boolean {
    return this.session === undefined;
  }

  async reset(params: ResetParams): Promise<EnvStepResult> {
    const kwargs = resetKwargs(params);
    const post = () => this.http.post("/reset?extensions=1", kwargs, { [SESSION_HEADER]: this.session ?? "new" });
    // Opening (`new`): a server that is full or draining is asked again; a balancer may pick another replica.
    const { body, headers } =
      this.session === undefined ? await retryingOpen(this.openRetry, post) : await post().catch((e: unknown) => this.forgetLost(e));
    const id = headers.get(SESSION_HEADER) ?? (isJsonObject(body) && typeof body.session_id === "string" ? body.session_id : undefined);
    if (id !== null && id !== undefined) this.session = id;
    this.restarted(params);
    return resultFromPayload(this.schemas, body, this.episode, this.registry);
  }

  async step(action: Message, params: StepParams): Promise<EnvStepResult> {
    const request: JsonObject = { action: actionJson(this.schemas.action, action, this.registry) };
    if (params.timeoutMs !== undefined) request.timeout_s = params.timeoutMs / 1000;
    const { body } = await this.http.post("/step?extensions=1", request, this.headers()).catch((e: unknown) => this.forgetLost(e));
    this.episode.stepCount++;
    return resultFromPayload(this.schemas, body, this.episode, this.registry);
  }

  async state(): Promise<Message> {
    const { body } = await this.http.get("/state", this.headers()).catch((e: unknown) => this.forgetLost(e));
    return decodeFromServer(this.schemas.state, body, "state", this.registry);
  }

  async close(): Promise<void> {
    const id = this.session;
    this.session = undefined;
    if (id === undefined || this.keepSession) return;
    const params: JsonValue = { session_id: id };
    await this.http.post("/mcp", { jsonrpc: "2.0", method: "openenv/session/close", params, id: 1 }).catch(() => {});
  }

  private headers(): Record<string, string> {
    return this.session === undefined ? {} : { [SESSION_HEADER]: this.session };
  }

  /** Forgets a session lost with its replica (the next reset opens a new one), then rethrows. */
  private forgetLost(err: unknown): never {
    if (err instanceof ConnectError && findSessionLost(err) !== undefined) this.session = undefined;
    throw err;
  }
}
