import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type OpenEnvConnectionOptions, OpenEnvHttp, OpenEnvSocket, webSocketUrl } from "../openenv/client/connection.js";
import { isJsonObject } from "../protocol/json-object.js";

/** Options of {@link GenericEnvClient}. */
export interface GenericEnvClientOptions extends OpenEnvConnectionOptions {
  /** Server URL: `http(s)://` or `ws(s)://`, e.g. `http://127.0.0.1:8000`. */
  readonly baseUrl: string;
  /** `"websocket"` (OpenEnv's `/ws`, the default), `"http"` (its HTTP routes), or `"auto"` (WebSocket, else HTTP). */
  readonly transport?: "auto" | "websocket" | "http";
}

/** A step or reset result as plain JSON, like OpenEnv's `StepResult`. */
export interface GenericStepResult {
  /** The observation's own fields. */
  readonly observation: JsonObject;
  readonly reward: number | null;
  readonly done: boolean;
  /** Top-level metadata (newer OpenEnv servers and openenv-connect), else the observation's own `metadata`, else `{}`. */
  readonly metadata: JsonObject;
  /** The whole payload the server sent, including any extra keys. */
  readonly raw: JsonObject;
}

/**
 * OpenEnv's `GenericEnvClient` in TypeScript: plain JSON objects in and out, no
 * generated code, against any OpenEnv server (OpenEnv's Python servers and
 * openenv-connect alike).
 *
 * @example
 * ```ts
 * await using env = await GenericEnvClient.connect({ baseUrl: "http://127.0.0.1:8000" });
 * await env.reset({ seed: 1 });
 * const r = await env.step({ message: "hi" });
 * console.log(r.observation.echoed_message, r.reward);
 * ```
 */
export class GenericEnvClient implements AsyncDisposable {
  private socket: OpenEnvSocket | undefined;
  private http: OpenEnvHttp | undefined;
  private session: string | undefined;
  private closed = false;

  private constructor(private readonly options: GenericEnvClientOptions) {}

  /** Creates a client and opens its connection (a `/ws` session, or checks `/health` over HTTP). */
  static async connect(options: GenericEnvClientOptions): Promise<GenericEnvClient> {
    const client = new GenericEnvClient(options);
    await client.open();
    return client;
  }

  /** `"websocket"` or `"http"`. */
  get transport(): "websocket" | "http" {
    return this.socket !== undefined ? "websocket" : "http";
  }

  /** `{"type":"reset","data":kwargs}` (or `POST /reset`): starts an episode. */
  async reset(kwargs: JsonObject = {}): Promise<GenericStepResult> {
    if (this.socket !== undefined) return parse((await this.live(this.socket).request({ type: "reset", data: kwargs })).data);
    const http = this.live(this.http as OpenEnvHttp);
    const { body, headers } = await http.post("/reset", kwargs, { "openenv-session-id": this.session ?? "new" });
    const id = headers.get("openenv-session-id");
    if (id !== null) this.session = id;
    return parse(body);
  }

  /** `{"type":"step","data":action}` (or `POST /step`): applies an action given as a plain object. */
  async step(action: JsonObject): Promise<GenericStepResult> {
    if (!isJsonObject(action)) throw new ConnectError("action must be a JSON object", Code.InvalidArgument);
    if (this.socket !== undefined) return parse((await this.live(this.socket).request({ type: "step", data: action })).data);
    const { body } = await this.live(this.http as OpenEnvHttp).post("/step", { action }, this.sessionHeaders());
    return parse(body);
  }

  /** `{"type":"state"}` (or `GET /state`): the state as plain JSON. */
  async state(): Promise<JsonObject> {
    const data =
      this.socket !== undefined
        ? (await this.live(this.socket).request({ type: "state" })).data
        : (await this.live(this.http as OpenEnvHttp).get("/state", this.sessionHeaders())).body;
    if (!isJsonObject(data)) throw new ConnectError("the server sent a state that is not an object", Code.Internal);
    return data;
  }

  /** Sends `close` and closes the connection (HTTP: closes the stateful session, if any). Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.socket !== undefined) await this.socket.close();
    else if (this.session !== undefined && this.http !== undefined) {
      const params = { session_id: this.session };
      await this.http.post("/mcp", { jsonrpc: "2.0", method: "openenv/session/close", params, id: 1 }).catch(() => {});
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async open(): Promise<void> {
    const kind = this.options.transport ?? "websocket";
    const errors: string[] = [];
    if (kind !== "http") {
      try {
        this.socket = await OpenEnvSocket.connect(webSocketUrl(this.options.baseUrl), this.options);
        return;
      } catch (err) {
        if (kind === "websocket") throw err;
        errors.push(err instanceof Error ? err.message : String(err));
      }
    }
    const base = this.options.baseUrl.replace(/^ws(s?):\/\//, "http$1://");
    const http = new OpenEnvHttp(base, this.options);
    try {
      await http.get("/health", {}, this.options.connectTimeoutMs ?? 10_000);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
      throw new ConnectError(`cannot reach ${this.options.baseUrl}: ${errors.join("; ")}`, Code.Unavailable);
    }
    this.http = http;
  }

  private live<T>(connection: T): T {
    if (this.closed) throw new ConnectError("the client is closed", Code.FailedPrecondition);
    return connection;
  }

  private sessionHeaders(): Record<string, string> {
    return this.session === undefined ? {} : { "openenv-session-id": this.session };
  }
}

function parse(data: unknown): GenericStepResult {
  if (!isJsonObject(data)) throw new ConnectError("the server sent a step result that is not an object", Code.Internal);
  const observation = isJsonObject(data.observation) ? data.observation : {};
  const reward = typeof data.reward === "number" ? data.reward : typeof data.reward === "boolean" ? Number(data.reward) : null;
  const metadata = isJsonObject(data.metadata) ? data.metadata : isJsonObject(observation.metadata) ? observation.metadata : {};
  return { observation, reward, done: data.done === true, metadata, raw: data };
}
