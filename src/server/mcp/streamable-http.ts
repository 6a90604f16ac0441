import type * as http from "node:http";
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  isInitializeRequest,
  ListToolsRequestSchema,
  McpError,
  type Tool as McpTool,
} from "@modelcontextprotocol/sdk/types.js";
import { ToolErrorType, type ToolProgress } from "../../../gen/openenv/v1/tools_pb.js";
import type { Session } from "../../core/session.js";
import { mcpContentJson, mcpToolJson, toolErrorName } from "../../openenv/json/tools.js";
import { findCapacity } from "../../protocol/errors.js";
import type { EnvironmentRouter } from "../router.js";
import type { HttpSurface, ServerRequest, ServerResponse } from "../serve.js";
import type { ServerMode } from "../tools/define.js";
import { callToolInSession } from "../tools/session-calls.js";
import { describeTools, toolsOf } from "../tools/tool-environment.js";

/** Options of {@link mcpStreamableHttpSurface}. */
export interface McpSurfaceOptions {
  /** The endpoint. Default `/mcp`, shared with OpenEnv's JSON-RPC (see {@link isStreamableHttpRequest}). */
  readonly path?: string;
  /** The server's mode: the tools declared for it are offered. Default simulation. */
  readonly mode?: ServerMode;
}

/**
 * True for a request of MCP's Streamable HTTP transport: a GET or DELETE, or a
 * POST that carries an `Mcp-Session-Id` or accepts `text/event-stream` (the
 * specification requires MCP clients to send both JSON and SSE in Accept).
 * OpenEnv's own JSON-RPC clients POST plain JSON, so the two share `/mcp`.
 */
export function isStreamableHttpRequest(req: ServerRequest): boolean {
  if (req.method === "GET" || req.method === "DELETE") return req.headers.upgrade === undefined;
  if (req.method !== "POST") return false;
  return req.headers["mcp-session-id"] !== undefined || String(req.headers.accept ?? "").includes("text/event-stream");
}

interface Binding {
  readonly transport: WebStandardStreamableHTTPServerTransport;
  readonly server: Server;
  readonly session: Session;
}

/**
 * Real MCP over Streamable HTTP for a tool environment, built on the MCP SDK
 * (`@modelcontextprotocol/sdk`): initialize and capabilities, `tools/list` with
 * the tools' JSON Schemas, `tools/call` with content and structured content,
 * ping, sessions (`Mcp-Session-Id`, DELETE to end), notifications, and progress
 * notifications for a tool's partial results. A stock MCP client can connect.
 *
 * Each MCP session is one session of the server (the same id), so its tool
 * calls are steps with the same limits, queue and deadlines as every other
 * surface: the step's reward, done flag and step count travel in the result's
 * `_meta` (`openenv/reward`, `openenv/done`, `openenv/step_count`). The
 * session counts against `maxSessions`; the idle timeout and DELETE end it.
 * Errors have MCP's shapes: an unknown tool is JSON-RPC −32602; invalid
 * arguments, a timeout or the tool's own failure a result with `isError`.
 */
export function mcpStreamableHttpSurface(router: EnvironmentRouter, options: McpSurfaceOptions = {}): HttpSurface {
  const tools = toolsOf(router.spec);
  if (tools === undefined) throw new TypeError(`${router.spec.name} is not a tool environment: its action is not openenv.v1.ToolAction`);
  const path = options.path ?? "/mcp";
  const mode = options.mode ?? "simulation";
  const listed = describeTools(tools, mode).map((t): McpTool => {
    const json = mcpToolJson(t, false);
    const meta: JsonObject = { "openenv/timeout_s": t.timeoutS };
    if (t.inputType !== "") meta["openenv/input_type"] = t.inputType;
    if (t.outputType !== "") meta["openenv/output_type"] = t.outputType;
    return { ...json, _meta: meta } as McpTool;
  });
  const bindings = new Map<string, Binding>();
  let closing = false;

  const serveRequest = async (req: ServerRequest, res: ServerResponse): Promise<void> => {
    const sessionId = header(req, "mcp-session-id");
    let body: unknown;
    if (req.method === "POST") {
      const read = await readJson(req, router.maxMessageBytes);
      if (!read.ok) return rpcError(res, read.status, read.code, read.message);
      body = read.value;
    }
    if (sessionId !== undefined) {
      const binding = bindings.get(sessionId);
      if (binding === undefined) return rpcError(res, 404, -32001, "Session not found");
      return respond(binding.transport, req, res, body);
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      return rpcError(res, 400, ErrorCode.InvalidRequest, "Bad Request: No valid session ID provided");
    }
    if (closing) return rpcError(res, 503, ErrorCode.ConnectionClosed, "server shutting down");
    let session: Session;
    try {
      session = await router.sessions.open();
    } catch (e) {
      const err = ConnectError.from(e, Code.Internal);
      const capacity = findCapacity(err);
      const data = capacity === undefined ? undefined : { active_sessions: capacity.activeSessions, max_sessions: capacity.maxSessions };
      return rpcError(res, capacity === undefined ? 500 : 503, -32000, err.rawMessage, data);
    }
    const binding = bind(session);
    await respond(binding.transport, req, res, body);
    // An initialize the SDK refused (e.g. an unsupported protocol version) leaves no MCP session behind it.
    if (binding.transport.sessionId === undefined) await session.close({ code: Code.NotFound, message: "MCP initialize failed" });
  };

  const bind = (session: Session): Binding => {
    // The low-level Server: the tools' JSON Schemas come from our specs (McpServer wants zod schemas).
    const server = new Server(
      { name: router.spec.name, version: router.spec.version ?? "1.0.0" },
      { capabilities: { tools: { listChanged: false } }, instructions: router.spec.description },
    );
    const transport = new WebStandardStreamableHTTPServerTransport({
      // The MCP session id is the server's session id: the session is one, whatever surface drives it.
      sessionIdGenerator: () => session.id,
      onsessioninitialized: (id) => {
        bindings.set(id, binding);
      },
    });
    const binding: Binding = { transport, server, session };
    transport.onclose = () => {
      bindings.delete(session.id);
      void session.close({ code: Code.NotFound, message: "MCP session ended" });
    };
    session.onClose(() => {
      bindings.delete(session.id);
      void transport.close();
    });
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const name = request.params.name;
      const progressToken = request.params._meta?.progressToken;
      const partials =
        progressToken === undefined
          ? undefined
          : {
              partial: (_requestId: string, p: { observation: unknown }) => {
                const progress = p.observation as ToolProgress;
                void extra
                  .sendNotification({
                    method: "notifications/progress",
                    params: {
                      progressToken,
                      progress: progress.progress,
                      ...(progress.total === undefined ? {} : { total: progress.total }),
                      ...(progress.message === "" ? {} : { message: progress.message }),
                    },
                  })
                  .catch(() => {});
              },
            };
      let call: Awaited<ReturnType<typeof callToolInSession>>;
      try {
        call = await callToolInSession(session, name, (request.params.arguments ?? {}) as JsonObject, { partials });
      } catch (e) {
        throw new McpError(ErrorCode.InternalError, ConnectError.from(e, Code.Internal).rawMessage);
      }
      const { observation, record } = call;
      const meta = { "openenv/reward": record.reward ?? null, "openenv/done": record.done, "openenv/step_count": record.stepCount };
      const error = observation.error;
      if (error !== undefined) {
        if (error.errorType === ToolErrorType.TOOL_NOT_FOUND) throw new McpError(ErrorCode.InvalidParams, error.message);
        return {
          content: [{ type: "text", text: error.message }],
          isError: true,
          _meta: { ...meta, "openenv/error_type": toolErrorName(error.errorType) },
        } as CallToolResult;
      }
      const result = observation.result;
      return {
        content: (result?.content ?? []).map(mcpContentJson) as unknown as CallToolResult["content"],
        ...(result?.structuredContent === undefined ? {} : { structuredContent: result.structuredContent }),
        isError: result?.isError ?? false,
        _meta: meta,
      } as CallToolResult;
    });
    void server.connect(transport);
    return binding;
  };

  return {
    handle(req, res) {
      const url = req.url ?? "/";
      const pathname = url.includes("?") ? url.slice(0, url.indexOf("?")) : url;
      if (pathname !== path || !isStreamableHttpRequest(req)) return false;
      serveRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent) rpcError(res, 500, ErrorCode.InternalError, err instanceof Error ? err.message : String(err));
        else res.end();
      });
      return true;
    },
    async close() {
      closing = true;
      const all = [...bindings.values()];
      bindings.clear();
      await Promise.all(all.map((b) => b.server.close().catch(() => {})));
    },
  };
}

/**
 * Hands a Node request to the SDK's web-standard transport and writes its
 * `Response` back, streaming an SSE body chunk by chunk as it is produced. (The
 * SDK's Node wrapper polls a streamed body with timers, which costs each call
 * milliseconds, more on a busy machine; it also takes HTTP/1.1 requests only.)
 */
async function respond(
  transport: WebStandardStreamableHTTPServerTransport,
  req: ServerRequest,
  res: ServerResponse,
  parsedBody: unknown,
): Promise<void> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":") || value === undefined) continue; // HTTP/2 pseudo-headers
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const host = headers.get("host") ?? String(req.headers[":authority"] ?? "localhost");
  const abort = new AbortController();
  // Only a response cut short aborts: abort() makes a DOMException (a stack trace) on every call otherwise.
  res.on("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const request = new Request(`http://${host}${req.url ?? "/"}`, { method: req.method, headers, signal: abort.signal });
  const response = await transport.handleRequest(request, { parsedBody });
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    out[name] = value;
  });
  (res as http.ServerResponse).writeHead(response.status, out);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  abort.signal.addEventListener("abort", () => void reader.cancel().catch(() => {}), { once: true });
  // A chunk is written when the next one is not ready by the next turn of the event loop, so a
  // one-event response goes out with its headers and its end in one write (one wake-up of the
  // client), and a progress notification of a running call goes out at once.
  const turn = (): Promise<"turn"> => new Promise((r) => setImmediate(() => r("turn")));
  let pending: Uint8Array | undefined;
  let next = reader.read();
  try {
    for (;;) {
      const first = pending === undefined ? await next : await Promise.race([next, turn()]);
      if (first === "turn") {
        (res as http.ServerResponse).write(pending);
        pending = undefined;
        continue;
      }
      if (first.done) break;
      if (pending !== undefined) (res as http.ServerResponse).write(pending);
      pending = first.value;
      next = reader.read();
    }
  } catch {
    // The client went away mid-stream.
  }
  if (pending === undefined) res.end();
  else res.end(pending);
}

function header(req: ServerRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A JSON-RPC error answer outside any MCP session (no id to answer). */
function rpcError(res: ServerResponse, status: number, code: number, message: string, data?: JsonObject): void {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code, message, ...(data === undefined ? {} : { data }) }, id: null });
  (res as http.ServerResponse).writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

type ReadResult = { ok: true; value: unknown } | { ok: false; status: number; code: number; message: string };

/** Reads a JSON body, up to `limit` bytes. */
function readJson(req: ServerRequest, limit: number): Promise<ReadResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (r: ReadResult): void => {
      if (done) return;
      done = true;
      resolve(r);
    };
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        finish({ ok: false, status: 413, code: ErrorCode.InvalidRequest, message: `request body larger than ${limit} bytes` });
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      try {
        finish({ ok: true, value: JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown });
      } catch {
        finish({ ok: false, status: 400, code: ErrorCode.ParseError, message: "Parse error: the body is not JSON" });
      }
    });
    req.on("error", () => finish({ ok: false, status: 400, code: ErrorCode.ParseError, message: "Parse error: the body was cut short" }));
  });
}
