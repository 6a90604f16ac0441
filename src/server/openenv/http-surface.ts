import type * as http from "node:http";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.js";
import { findCapacity, toConnectError } from "../../protocol/errors.js";
import { jsonDepthError } from "../../protocol/json-depth.js";
import { decodeOpenEnvJson } from "../../protocol/openenv-json.js";
import { describeJsonError } from "../../protocol/python-json.js";
import type { ServerRequest, ServerResponse } from "../serve.js";
import type { Session } from "../session.js";
import { type OpenEnvContext, SESSION_HEADER, stepStarted } from "./context.js";
import { parseResetBody, parseStepBody } from "./envelope.js";
import { handleJsonRpc, parseErrorResponse } from "./json-rpc.js";
import { pydanticErrors, resultPayload, stateJson, statusOf } from "./wire.js";

/**
 * OpenEnv's HTTP routes: `POST /reset`, `POST /step`, `GET /state`,
 * `GET /metadata`, `GET /health`, `GET /schema`, `GET /openapi.json` and
 * `POST /mcp`. `/reset`, `/step` and `/state` are stateless (a fresh
 * environment per request, as OpenEnv) unless the request carries the
 * `OpenEnv-Session-Id` header.
 */
export class OpenEnvHttpRoutes {
  private readonly routes = new Map<
    string,
    { method: string; run: (req: ServerRequest, res: ServerResponse, url: URL) => Promise<void> }
  >();

  constructor(private readonly ctx: OpenEnvContext) {
    if (ctx.mode === "simulation") {
      this.routes.set("/reset", { method: "POST", run: (req, res, url) => this.reset(req, res, url) });
      this.routes.set("/step", { method: "POST", run: (req, res, url) => this.step(req, res, url) });
      this.routes.set("/state", { method: "GET", run: (req, res) => this.state(req, res) });
    }
    this.routes.set("/metadata", { method: "GET", run: async (_req, res) => send(res, 200, ctx.metadataBody) });
    this.routes.set("/schema", { method: "GET", run: async (_req, res) => send(res, 200, ctx.schemaBody) });
    this.routes.set("/openapi.json", { method: "GET", run: async (_req, res) => send(res, 200, ctx.openapiBody) });
    this.routes.set("/health", { method: "GET", run: async (_req, res) => this.health(res) });
    this.routes.set("/mcp", { method: "POST", run: (req, res) => this.mcp(req, res) });
  }

  /** Serves the request if its path is an OpenEnv route; false otherwise. */
  handle(req: ServerRequest, res: ServerResponse): boolean {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = this.routes.get(url.pathname);
    if (route === undefined) return false;
    if (req.method !== route.method) {
      send(res, 405, JSON.stringify({ detail: "Method Not Allowed" }), { allow: route.method });
      return true;
    }
    route.run(req, res, url).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, toConnectError(err));
      else res.end();
    });
    return true;
  }

  private health(res: ServerResponse): void {
    const serving = this.ctx.health.get("") === HealthCheckResponse_ServingStatus.SERVING;
    send(res, serving ? 200 : 503, JSON.stringify({ status: serving ? "healthy" : "unhealthy" }));
  }

  private async reset(req: ServerRequest, res: ServerResponse, url: URL): Promise<void> {
    const body = await this.readJson(req, res);
    if (body === DONE) return;
    const parsed = parseResetBody(body);
    if (!parsed.ok) return send(res, 422, JSON.stringify({ detail: pydanticErrors(parsed.errors, false) }));
    const header = this.sessionHeader(req);
    const { seed, episodeId, options } = parsed.value;
    const params = { seed, episodeId, options };
    if (header === undefined) {
      return this.stateless(res, async (session) => {
        const record = await session.reset(params);
        return resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(url) });
      });
    }
    const opened = header === "new";
    const session = opened ? await this.open(res) : this.find(res, header);
    if (session === undefined) return;
    try {
      const record = await session.reset(params);
      send(res, 200, resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(url), sessionId: session.id }), {
        [SESSION_HEADER]: session.id,
      });
    } catch (err) {
      if (opened) await session.close({ code: Code.NotFound, message: "reset failed" });
      sendError(res, toConnectError(err));
    }
  }

  private async step(req: ServerRequest, res: ServerResponse, url: URL): Promise<void> {
    const body = await this.readJson(req, res);
    if (body === DONE) return;
    const envelope = parseStepBody(body);
    if (!envelope.ok) return send(res, 422, JSON.stringify({ detail: pydanticErrors(envelope.errors, false) }));
    const decoded = decodeOpenEnvJson(this.ctx.spec.action, envelope.value.action, { registry: this.ctx.registry });
    if (!decoded.ok) return send(res, 422, JSON.stringify({ detail: pydanticErrors(decoded.errors, true) }));
    const params = { timeoutMs: envelope.value.timeoutMs, requestId: envelope.value.requestId };
    const header = this.sessionHeader(req);
    if (header === undefined) {
      return this.stateless(res, async (session) => {
        const record = await stepStarted(session, decoded.message, params);
        return resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(url) });
      });
    }
    if (header === "new") return send(res, 400, errorBody("OpenEnv-Session-Id: new opens a session on /reset only", Code.InvalidArgument));
    const session = this.find(res, header);
    if (session === undefined) return;
    try {
      const record = await stepStarted(session, decoded.message, params);
      send(res, 200, resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(url), sessionId: session.id }), {
        [SESSION_HEADER]: session.id,
      });
    } catch (err) {
      sendError(res, toConnectError(err));
    }
  }

  private async state(req: ServerRequest, res: ServerResponse): Promise<void> {
    const header = this.sessionHeader(req);
    if (header === undefined) {
      return this.stateless(res, async (session) =>
        JSON.stringify(stateJson(this.ctx.spec.state, await session.state(), this.ctx.registry)),
      );
    }
    if (header === "new") return send(res, 400, errorBody("OpenEnv-Session-Id: new opens a session on /reset only", Code.InvalidArgument));
    const session = this.find(res, header);
    if (session === undefined) return;
    try {
      const state = await session.state();
      send(res, 200, JSON.stringify(stateJson(this.ctx.spec.state, state, this.ctx.registry)), { [SESSION_HEADER]: session.id });
    } catch (err) {
      sendError(res, toConnectError(err));
    }
  }

  private async mcp(req: ServerRequest, res: ServerResponse): Promise<void> {
    const text = await readBody(req, this.ctx.maxMessageBytes);
    if (text === TOO_LARGE) return sendTooLarge(res, this.ctx.maxMessageBytes);
    let body: unknown;
    try {
      body = JSON.parse(text ?? "");
    } catch {
      return send(res, 200, JSON.stringify(parseErrorResponse()));
    }
    if (jsonDepthError(body) !== undefined) return send(res, 200, JSON.stringify(parseErrorResponse()));
    send(res, 200, JSON.stringify(await handleJsonRpc(body, { manager: this.ctx.manager, headers: req.headers })));
  }

  /** OpenEnv's stateless call: a fresh environment for this request only. */
  private async stateless(res: ServerResponse, work: (session: Session) => Promise<string>): Promise<void> {
    const session = await this.open(res);
    if (session === undefined) return;
    try {
      send(res, 200, await work(session));
    } catch (err) {
      sendError(res, toConnectError(err));
    } finally {
      await session.close({ code: Code.NotFound, message: "stateless HTTP request finished" });
    }
  }

  private async open(res: ServerResponse): Promise<Session | undefined> {
    try {
      return await this.ctx.manager.open();
    } catch (err) {
      sendError(res, toConnectError(err));
      return undefined;
    }
  }

  private find(res: ServerResponse, id: string): Session | undefined {
    const session = this.ctx.manager.find(id);
    if (session === undefined || session.closed !== undefined) {
      send(res, 404, errorBody(`session '${id}' not found (closed, idle for too long, or never opened)`, Code.NotFound));
      return undefined;
    }
    return session;
  }

  private sessionHeader(req: ServerRequest): string | undefined {
    if (!this.ctx.httpSessions) return undefined;
    const v = req.headers[SESSION_HEADER];
    const id = Array.isArray(v) ? v[0] : v;
    return id === undefined || id === "" ? undefined : id;
  }

  /** Reads and parses a JSON body; answers 413/422 itself and returns DONE then. Empty body: undefined. */
  private async readJson(req: ServerRequest, res: ServerResponse): Promise<unknown> {
    const text = await readBody(req, this.ctx.maxMessageBytes);
    if (text === TOO_LARGE) {
      sendTooLarge(res, this.ctx.maxMessageBytes);
      return DONE;
    }
    if (text === undefined) return undefined;
    let error: { pos: number; msg: string };
    try {
      const body: unknown = JSON.parse(text);
      const tooDeep = jsonDepthError(body);
      if (tooDeep === undefined) return body;
      error = { pos: 0, msg: tooDeep };
    } catch {
      error = describeJsonError(text);
    }
    send(
      res,
      422,
      JSON.stringify({
        detail: [{ type: "json_invalid", loc: ["body", error.pos], msg: "JSON decode error", input: {}, ctx: { error: error.msg } }],
      }),
    );
    return DONE;
  }
}

const DONE = Symbol("answered");
const TOO_LARGE = Symbol("too large");

function extensions(url: URL): boolean {
  const v = url.searchParams.get("extensions");
  return v !== null && v !== "0" && v !== "false";
}

async function readBody(req: ServerRequest, limit: number): Promise<string | undefined | typeof TOO_LARGE> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) return TOO_LARGE;
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  return Buffer.concat(chunks, size).toString("utf8");
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  (res as http.ServerResponse).writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

function sendTooLarge(res: ServerResponse, limit: number): void {
  // HTTP/1.1: the rest of the body is never read, so the connection cannot carry another request.
  // HTTP/2 has no Connection header (the stream alone ends).
  const h1 = (res as http.ServerResponse).req?.httpVersionMajor === 1;
  send(res, 413, errorBody(`request body larger than ${limit} bytes`, Code.ResourceExhausted), h1 ? { connection: "close" } : {});
}

function errorBody(message: string, code: Code, extra: Record<string, JsonValue> = {}): string {
  return JSON.stringify({ detail: message, code: statusOf(new ConnectError(message, code)), ...extra });
}

/** An error of a session operation: the Connect code's HTTP status (503 at capacity), `{"detail": message, "code": ...}`. */
function sendError(res: ServerResponse, err: ConnectError): void {
  const capacity = findCapacity(err);
  if (capacity !== undefined) {
    send(
      res,
      503,
      errorBody(err.rawMessage, err.code, {
        active_sessions: capacity.activeSessions,
        max_sessions: capacity.maxSessions,
      }),
    );
    return;
  }
  send(res, codeToHttpStatus(err.code), errorBody(err.rawMessage, err.code));
}
