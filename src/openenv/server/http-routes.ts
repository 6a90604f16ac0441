import type * as http from "node:http";
import type { JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.js";
import type { Session } from "../../core/session.js";
import { findCapacity, findSessionLost } from "../../protocol/errors.js";
import { jsonDepthError } from "../../protocol/json-depth.js";
import type { ServerRequest, ServerResponse } from "../../server/serve.js";
import { decodeOpenEnvJson } from "../json/decode.js";
import { pydanticErrors } from "../pydantic-errors.js";
import { describeJsonError } from "../python-json.js";
import { type OpenEnvContext, SESSION_HEADER, stepStarted } from "./context.js";
import { parseErrorResponse } from "./json-rpc.js";
import { parseResetBody, parseStepBody } from "./request-models.js";
import { resultPayload, stateJson, statusOf } from "./result-json.js";

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
    { method: string; run: (req: ServerRequest, res: ServerResponse, query: string) => Promise<void> }
  >();

  constructor(private readonly ctx: OpenEnvContext) {
    if (ctx.mode === "simulation") {
      this.routes.set("/reset", { method: "POST", run: (req, res, query) => this.reset(req, res, query) });
      this.routes.set("/step", { method: "POST", run: (req, res, query) => this.step(req, res, query) });
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
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const route = this.routes.get(q < 0 ? target : target.slice(0, q));
    if (route === undefined) return false;
    if (req.method !== route.method) {
      send(res, 405, JSON.stringify({ detail: "Method Not Allowed" }), { allow: route.method });
      return true;
    }
    route.run(req, res, q < 0 ? "" : target.slice(q + 1)).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, ConnectError.from(err, Code.Internal));
      else res.end();
    });
    return true;
  }

  private health(res: ServerResponse): void {
    const serving = this.ctx.health.get("") === HealthCheckResponse_ServingStatus.SERVING;
    send(res, serving ? 200 : 503, JSON.stringify({ status: serving ? "healthy" : "unhealthy" }));
  }

  private async reset(req: ServerRequest, res: ServerResponse, query: string): Promise<void> {
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
        return resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(query) });
      });
    }
    const opened = header === "new";
    const session = opened ? await this.open(res) : this.find(res, header);
    if (session === undefined) return;
    try {
      const record = await session.reset(params);
      send(res, 200, resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(query), sessionId: session.id }), {
        [SESSION_HEADER]: session.id,
      });
    } catch (err) {
      if (opened) await session.close({ code: Code.NotFound, message: "reset failed" });
      sendError(res, ConnectError.from(err, Code.Internal));
    }
  }

  private async step(req: ServerRequest, res: ServerResponse, query: string): Promise<void> {
    const body = await this.readJson(req, res);
    if (body === DONE) return;
    const envelope = parseStepBody(body);
    if (!envelope.ok) return send(res, 422, JSON.stringify({ detail: pydanticErrors(envelope.errors, false) }));
    const decoded = decodeOpenEnvJson(this.ctx.spec.action, envelope.value.action, { registry: this.ctx.registry });
    if (!decoded.ok) {
      this.ctx.manager.rejected(invalidAction);
      return send(res, 422, JSON.stringify({ detail: pydanticErrors(decoded.errors, true) }));
    }
    const params = { timeoutMs: envelope.value.timeoutMs, requestId: envelope.value.requestId };
    const header = this.sessionHeader(req);
    if (header === undefined) {
      return this.stateless(res, async (session) => {
        const record = await stepStarted(session, decoded.message, params);
        return resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(query) });
      });
    }
    if (header === "new") return send(res, 400, errorBody("OpenEnv-Session-Id: new opens a session on /reset only", Code.InvalidArgument));
    const session = this.find(res, header);
    if (session === undefined) return;
    try {
      const record = await stepStarted(session, decoded.message, params);
      send(res, 200, resultPayload(this.ctx.spec, record, this.ctx.registry, { extensions: extensions(query), sessionId: session.id }), {
        [SESSION_HEADER]: session.id,
      });
    } catch (err) {
      sendError(res, ConnectError.from(err, Code.Internal));
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
      sendError(res, ConnectError.from(err, Code.Internal));
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
    send(res, 200, JSON.stringify(await this.ctx.jsonRpc(body, { headers: req.headers })));
  }

  /** OpenEnv's stateless call: a fresh environment for this request only. */
  private async stateless(res: ServerResponse, work: (session: Session) => Promise<string>): Promise<void> {
    const session = await this.open(res);
    if (session === undefined) return;
    try {
      send(res, 200, await work(session));
    } catch (err) {
      sendError(res, ConnectError.from(err, Code.Internal));
    } finally {
      await session.close({ code: Code.NotFound, message: "stateless HTTP request finished" });
    }
  }

  private async open(res: ServerResponse): Promise<Session | undefined> {
    try {
      return await this.ctx.manager.open();
    } catch (err) {
      sendError(res, ConnectError.from(err, Code.Internal));
      return undefined;
    }
  }

  private find(res: ServerResponse, id: string): Session | undefined {
    const session = this.ctx.manager.find(id);
    if (session === undefined || session.closed !== undefined) {
      sendError(res, this.ctx.manager.missing(id));
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
/** What an action that fails validation counts as in the metrics (the 422 body has the details). */
const invalidAction = new ConnectError("invalid action", Code.InvalidArgument);
const TOO_LARGE = Symbol("too large");

/** `?extensions=1`: add openenv-connect's fields to the result. */
function extensions(query: string): boolean {
  if (query === "") return false;
  const v = new URLSearchParams(query).get("extensions");
  return v !== null && v !== "0" && v !== "false";
}

/** The request body as text: undefined when empty, TOO_LARGE past `limit` (the rest is not read). */
function readBody(req: ServerRequest, limit: number): Promise<string | undefined | typeof TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        stop();
        req.pause();
        resolve(TOO_LARGE);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      stop();
      resolve(size === 0 ? undefined : (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)).toString("utf8"));
    };
    const onError = (err: Error): void => {
      stop();
      reject(err);
    };
    const onClose = (): void => onError(new Error("the client went away before sending its whole request"));
    const stop = (): void => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
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
  const lost = findSessionLost(err);
  const extra: Record<string, JsonValue> = lost === undefined ? {} : { session_lost: { session_id: lost.sessionId, holder: lost.holder } };
  send(res, codeToHttpStatus(err.code), errorBody(err.rawMessage, err.code, extra));
}
