import {
  AuthRequired,
  authHeaders,
  CallError,
  type Credentials,
  type EnvConnection,
  type EnvDescription,
  type PartialView,
  type StepView,
} from "./connection.js";
import { fieldsFromJsonSchema } from "./fields.js";
import { type FieldError, type JsonRecord, pathString } from "./form.js";
import { type ToolSupport, type ToolView, toolViews } from "./tools.js";

type Frame = { type: string; data?: JsonRecord };

function isRecord(v: unknown): v is JsonRecord {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function getJson(url: string, credentials: Credentials): Promise<JsonRecord | undefined> {
  const res = await fetch(url, { headers: authHeaders(credentials) });
  if (res.status === 401) throw new AuthRequired("the server wants a token");
  if (!res.ok) return undefined;
  const body: unknown = await res.json();
  return isRecord(body) ? body : undefined;
}

/** Pydantic errors (`loc`, `msg`) as field errors. */
function pydanticFields(errors: unknown): FieldError[] {
  if (!Array.isArray(errors)) return [];
  return errors.filter(isRecord).map((e) => ({
    path: pathString(
      Array.isArray(e.loc) ? (e.loc.filter((p) => typeof p === "string" || typeof p === "number") as (string | number)[]) : [],
    ),
    message: typeof e.msg === "string" ? e.msg : "invalid",
  }));
}

/** What the page knows of an environment whose schema it cannot read. */
const unknownEnvironment: EnvDescription = {
  name: "environment",
  description: "no /schema readable from this page: edit the action as JSON",
  version: "",
  readme: "",
  actionFields: [],
  resetFields: undefined,
  actionType: "",
  observationType: "",
  stateType: "",
  partialType: "",
  rewardComponents: [],
  partialObservations: false,
};

function wsUrl(baseUrl: string): URL {
  const url = new URL("/ws?extensions=1", baseUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url;
}

/** Whether `/ws` accepts a WebSocket (closed again at once). */
function webSocketOpens(baseUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(wsUrl(baseUrl));
    ws.onopen = () => {
      ws.close(1000);
      resolve(true);
    };
    ws.onerror = () => resolve(false);
  });
}

/**
 * OpenEnv's own protocol: `/schema` and `/metadata` describe the environment,
 * one WebSocket on `/ws` holds the session. This is what an OpenEnv Python server
 * speaks; our server answers the same way, plus the `?extensions=1` fields
 * (terminated, truncated, reward components, step count) that OpenEnv ignores.
 *
 * A browser's WebSocket cannot carry an `Authorization` header, so this path
 * works only with servers that need no token (OpenEnv's have none).
 */
export class OpenEnvBackend implements EnvConnection {
  readonly transport = "OpenEnv WebSocket (/ws, JSON)";
  private socket: WebSocket | undefined;
  private opening: Promise<WebSocket> | undefined;
  private waiting: { resolve: (f: Frame) => void; reject: (e: Error) => void } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private steps = 0;
  private episode: string | undefined;
  private rpcId = 0;
  /** A tool environment's tools: Describe's list, or MCP's `tools/list` in an `mcp` frame; a call is OpenEnv's `call_tool` action. */
  readonly tools: ToolSupport | undefined;

  private constructor(
    private readonly baseUrl: string,
    readonly description: EnvDescription,
    isToolEnvironment = description.tools !== undefined,
  ) {
    const known = description.tools;
    this.tools = !isToolEnvironment
      ? undefined
      : {
          list: async () => known ?? this.listTools(),
          callAction: (name, args) => ({ type: "call_tool", tool_name: name, arguments: args }),
        };
  }

  /** OpenEnv's `{"type": "mcp"}` frame on /ws: JSON-RPC `tools/list`, answered by the environment's MCP server. */
  private async listTools(): Promise<readonly ToolView[]> {
    const reply = await this.call({ type: "mcp", data: { jsonrpc: "2.0", id: ++this.rpcId, method: "tools/list", params: {} } });
    const rpc = reply.data ?? {};
    if (isRecord(rpc.error)) throw new CallError(`tools/list: ${String(rpc.error.message)}`, "internal");
    return toolViews(isRecord(rpc.result) ? rpc.result.tools : undefined);
  }

  /** Reads `/schema` and `/metadata`; undefined when the server has neither. */
  static async open(baseUrl: string, credentials: Credentials, fallback?: EnvDescription): Promise<OpenEnvBackend | undefined> {
    if (fallback !== undefined) return new OpenEnvBackend(baseUrl, fallback);
    const [schema, metadata] = await Promise.all([
      getJson(`${baseUrl}/schema`, credentials).catch((e: unknown) => {
        if (e instanceof AuthRequired) throw e;
        return undefined;
      }),
      getJson(`${baseUrl}/metadata`, credentials).catch(() => undefined),
    ]);
    if (schema === undefined) {
      // Another origin without CORS (OpenEnv's servers send none) hides /schema from the page,
      // but a WebSocket needs no CORS: play with the action edited as JSON.
      if (!(await webSocketOpens(baseUrl))) return undefined;
      return new OpenEnvBackend(baseUrl, { ...unknownEnvironment, name: new URL(baseUrl).host });
    }
    const action = isRecord(schema.action) ? schema.action : {};
    const observation = isRecord(schema.observation) ? schema.observation : {};
    const state = isRecord(schema.state) ? schema.state : {};
    const str = (v: unknown): string => (typeof v === "string" ? v : "");
    const description: EnvDescription = {
      name: str(metadata?.name) || "environment",
      description: str(metadata?.description),
      version: str(metadata?.version),
      readme: str(metadata?.readme_content),
      actionFields: fieldsFromJsonSchema(action),
      resetFields: undefined,
      actionType: str(action.title),
      observationType: str(observation.title),
      stateType: str(state.title),
      partialType: "",
      rewardComponents: [],
      partialObservations: false,
    };
    // OpenEnv's MCP environments take a CallToolAction (`tool_name`, `arguments`).
    const isTools = isRecord(action.properties) && "tool_name" in action.properties;
    return new OpenEnvBackend(baseUrl, description, isTools);
  }

  private connect(): Promise<WebSocket> {
    if (this.socket !== undefined && this.socket.readyState === WebSocket.OPEN) return Promise.resolve(this.socket);
    this.opening ??= new Promise<WebSocket>((resolve, reject) => {
      const url = wsUrl(this.baseUrl);
      const ws = new WebSocket(url);
      ws.onopen = () => {
        this.socket = ws;
        this.opening = undefined;
        resolve(ws);
      };
      ws.onerror = () => {
        this.opening = undefined;
        reject(new CallError(`cannot open ${url.pathname}`, "unavailable"));
      };
      ws.onmessage = (ev) => {
        const w = this.waiting;
        this.waiting = undefined;
        try {
          const frame: unknown = JSON.parse(String(ev.data));
          if (isRecord(frame) && typeof frame.type === "string") w?.resolve(frame as Frame);
          else w?.reject(new CallError("the server sent a frame that is not OpenEnv's", "internal"));
        } catch {
          w?.reject(new CallError("the server sent a frame that is not JSON", "internal"));
        }
      };
      ws.onclose = (ev) => {
        this.socket = undefined;
        this.opening = undefined;
        this.waiting?.reject(new CallError(`the WebSocket closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`, "unavailable"));
        this.waiting = undefined;
      };
    });
    return this.opening;
  }

  /** One request, one reply: OpenEnv's /ws is strictly request/response. */
  private call(frame: Frame | { type: string }): Promise<Frame> {
    const run = async (): Promise<Frame> => {
      const ws = await this.connect();
      const reply = new Promise<Frame>((resolve, reject) => {
        this.waiting = { resolve, reject };
      });
      ws.send(JSON.stringify(frame));
      const got = await reply;
      if (got.type === "error") {
        const d = got.data ?? {};
        const message = typeof d.message === "string" ? d.message : "error";
        const code = typeof d.status === "string" ? d.status : typeof d.code === "string" ? d.code.toLowerCase() : "unknown";
        throw new CallError(message, code, pydanticFields(d.errors));
      }
      return got;
    };
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => {});
    return next;
  }

  private view(frame: Frame): StepView {
    const d = frame.data ?? {};
    const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
    const done = d.done === true;
    const components = isRecord(d.reward_components)
      ? d.reward_components
      : isRecord(isRecord(d.metadata) ? d.metadata.reward_components : undefined)
        ? ((d.metadata as JsonRecord).reward_components as JsonRecord)
        : {};
    return {
      observation: isRecord(d.observation) ? d.observation : {},
      reward: num(d.reward) ?? null,
      done,
      terminated: typeof d.terminated === "boolean" ? d.terminated : done,
      truncated: d.truncated === true,
      metadata: isRecord(d.metadata) ? d.metadata : {},
      rewardComponents: Object.fromEntries(Object.entries(components).filter((e): e is [string, number] => typeof e[1] === "number")),
      stepCount: num(d.step_count) ?? this.steps,
      episodeId: typeof d.episode_id === "string" ? d.episode_id : this.episode,
    };
  }

  async reset(params: { seed?: string; episodeId?: string; options?: JsonRecord }): Promise<StepView> {
    const data: JsonRecord = { ...(params.options ?? {}) };
    if (params.seed !== undefined) data.seed = Number(params.seed);
    if (params.episodeId !== undefined) data.episode_id = params.episodeId;
    const frame = await this.call({ type: "reset", data });
    this.steps = 0;
    this.episode = params.episodeId;
    return this.view(frame);
  }

  async step(action: JsonRecord, _onPartial: (p: PartialView) => void): Promise<StepView> {
    const frame = await this.call({ type: "step", data: action });
    this.steps++;
    return this.view(frame);
  }

  async state(): Promise<JsonRecord> {
    const frame = await this.call({ type: "state" });
    return frame.data ?? {};
  }

  close(): void {
    const ws = this.socket;
    this.socket = undefined;
    if (ws === undefined) return;
    try {
      ws.send(JSON.stringify({ type: "close" }));
    } catch {
      // already closing
    }
    ws.close(1000);
  }
}
