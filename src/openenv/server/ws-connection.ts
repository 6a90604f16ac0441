// One /ws or /mcp connection. One class because the frame handlers and the connection's lifecycle (session,
// ordering queue, backpressure, close) share one state: split apart, each half would reach into the other's fields.
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { RawData, WebSocket } from "ws";
import type { CloseReason, Session, SessionHolder, StepRecord } from "../../core/session.js";
import { jsonDepthError } from "../../protocol/json-depth.js";
import { isJsonObject } from "../../protocol/json-object.js";
import { decodeOpenEnvJson } from "../json/decode.js";
import { type OpenEnvFieldError, pydanticErrors, pythonStr, pythonTypeName } from "../pydantic-errors.js";
import { describeJsonError } from "../python-json.js";
import { type OpenEnvContext, stepStarted } from "./context.js";
import { JsonRpcCode, jsonRpcError } from "./json-rpc.js";
import {
  dataTypeError,
  ENVELOPE_KEYS,
  EXTENDED_ENVELOPE_KEYS,
  envelopeWithDataErrors,
  extraKeys,
  parseResetKwargs,
} from "./request-models.js";
import { resultPayload, stateJson } from "./result-json.js";
import { errorFrame, executionErrorFrame, rawText, setupErrorFrame, truncateReason } from "./ws-frames.js";

/** WebSocket close code of a normal close (what OpenEnv sends after a fatal error frame). */
const NORMAL = 1000;
/** Close code when the session ends underneath the socket (idle reaper, shutdown, takeover). */
const GOING_AWAY = 1001;
/** Frames waiting for their turn before the socket stops reading, and when it reads again. */
const PAUSE_AT = 64;
const RESUME_AT = 16;

/** A frame's answer: sent already (undefined), or once the promise settles. */
type Pending = void | Promise<void>;

/** How a WebSocket was opened (its query parameters). */
export interface WsOptions {
  /** `extensions=1`: openenv-connect's extra result fields, and `request_id` on frames. */
  readonly extensions: boolean;
  /** `session_id=<id>`: attach this existing session instead of opening one (a resume). */
  readonly resume: string | undefined;
  /** `resumable=1`: when the connection breaks (no close frame), keep the session for a resume. */
  readonly resumable: boolean;
}

/** Close code when the connection broke without a close frame. */
const ABNORMAL = 1006;

export class WsConnection implements SessionHolder {
  private session: Session | undefined;
  private tail: Promise<void> = Promise.resolve();
  private ending = false;
  private ready: Promise<boolean> | undefined;
  private queued = 0;

  constructor(
    private readonly ctx: OpenEnvContext,
    private readonly ws: WebSocket,
    private readonly kind: "ws" | "mcp",
    private readonly options: WsOptions,
    private readonly onGone: () => void,
  ) {}

  private get extensions(): boolean {
    return this.options.extensions;
  }

  start(): void {
    this.ready = this.openSession();
    this.ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on("close", (code) => {
      this.ending = true;
      this.onGone();
      if (code === ABNORMAL && this.options.resumable) this.dropSession();
      else void this.endSession({ code: Code.NotFound, message: "the client closed the WebSocket" });
    });
    this.ws.on("error", () => this.ws.terminate());
  }

  /** Strictly one request at a time, in order, as OpenEnv's loop does. */
  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.ending) return;
    if (this.queued === 0 && this.session !== undefined) {
      // Nothing waits: answer now. A synchronous environment's step is answered without a promise.
      this.queued = 1;
      const pending = this.handle(data, isBinary);
      if (pending instanceof Promise) this.tail = pending.then(() => this.dequeue());
      else this.queued = 0;
      return;
    }
    // A client that pipelines far ahead is read no further until the backlog shrinks.
    if (++this.queued >= PAUSE_AT && !this.ws.isPaused) this.ws.pause();
    this.tail = this.tail.then(async () => {
      try {
        if (this.ending || !(await this.ready)) return;
        await this.handle(data, isBinary);
      } finally {
        this.dequeue();
      }
    });
  }

  private dequeue(): void {
    if (--this.queued <= RESUME_AT && this.ws.isPaused) this.ws.resume();
  }

  /** Answers one frame; a failure of the loop itself ends the connection as OpenEnv's does. */
  private handle(data: RawData, isBinary: boolean): Pending {
    try {
      const pending = this.onFrame(data, isBinary);
      if (pending instanceof Promise) return pending.catch((err: unknown) => this.fatal(ConnectError.from(err, Code.Internal).rawMessage));
    } catch (err) {
      this.fatal(ConnectError.from(err, Code.Internal).rawMessage);
    }
  }

  async shutdown(reason: CloseReason): Promise<void> {
    this.ending = true;
    await Promise.race([this.tail, new Promise((r) => setTimeout(r, 10_000).unref())]);
    this.closeSocket(GOING_AWAY, reason.message);
  }

  private async openSession(): Promise<boolean> {
    const resume = this.options.resume;
    if (resume !== undefined) return this.resumeSession(resume);
    try {
      const session = await this.ctx.manager.open();
      if (this.ending) {
        await session.close({ code: Code.NotFound, message: "the client closed the WebSocket" });
        return false;
      }
      this.session = session;
      session.attach(this);
      return true;
    } catch (e) {
      this.setupFailed(ConnectError.from(e, Code.Internal));
      return false;
    }
  }

  /** `?session_id=`: takes over a session this process holds (a resume after a dropped connection). */
  private resumeSession(id: string): boolean {
    const session = this.ctx.manager.find(id);
    if (session === undefined || session.closed !== undefined) {
      this.setupFailed(this.ctx.manager.missing(id));
      return false;
    }
    this.session = session;
    session.attach(this);
    return true;
  }

  /** The connection broke: the session waits for a resume (the resume grace), after its running call. */
  private dropSession(): void {
    const session = this.session;
    this.session = undefined;
    session?.drop(this, this.tail);
  }

  /** The session ended underneath the socket (idle reaper, shutdown, another stream took it over). */
  detached(reason: CloseReason): void {
    this.session = undefined;
    if (!this.ending) {
      this.ending = true;
      this.closeSocket(GOING_AWAY, reason.message);
    }
  }

  /** OpenEnv: one error frame, then a normal close. */
  private setupFailed(err: ConnectError): void {
    this.ending = true;
    this.sendJson(setupErrorFrame(this.kind, err, this.ctx.spec.name));
    this.closeSocket(NORMAL, "");
  }

  private onFrame(data: RawData, isBinary: boolean): Pending {
    if (isBinary) {
      return this.fatal("binary frames are not supported: send each message as a JSON text frame");
    }
    const text = rawText(data);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      if (this.kind === "mcp")
        return this.sendJson(jsonRpcError(null, JsonRpcCode.ParseError, `Parse error: ${describeJsonError(text).text}`));
      return this.sendError(`Invalid JSON: ${describeJsonError(text).text}`, "INVALID_JSON");
    }
    const tooDeep = jsonDepthError(message);
    if (tooDeep !== undefined) {
      if (this.kind === "mcp") return this.sendJson(jsonRpcError(null, JsonRpcCode.ParseError, `Parse error: ${tooDeep}`));
      return this.sendError(`Invalid JSON: ${tooDeep}`, "INVALID_JSON");
    }
    const session = this.session;
    if (session === undefined) return this.fatal("the session is closed");
    if (this.kind === "mcp") return this.ctx.jsonRpc(message, { session }).then((response) => this.sendJson(response));
    if (!isJsonObject(message)) {
      return this.fatal(`expected a JSON object with a "type" key, got a JSON ${pythonTypeName(message)}`);
    }
    const type = message.type ?? "";
    switch (type) {
      case "reset":
        return this.reset(session, message);
      case "step":
        return this.step(session, message);
      case "state":
        return this.state(session, message);
      case "close":
        return this.close(message);
      case "mcp":
        return this.mcp(session, message);
      default:
        return this.sendError(`Unknown message type: ${pythonStr(type)}`, "UNKNOWN_TYPE");
    }
  }

  private reset(session: Session, message: Record<string, unknown>): Pending {
    const errors = extraKeys(message, this.envelopeKeys());
    const data = message.data ?? {};
    if (!isJsonObject(data)) errors.unshift(dataTypeError(data));
    if (errors.length > 0) return this.validationError(errors);
    const kwargs = parseResetKwargs(data as Record<string, unknown>, ["data"]);
    if (!kwargs.ok) return this.validationError(kwargs.errors);
    const requestId = this.requestId(message);
    const previous = this.recorded(session, requestId);
    if (previous !== undefined) return this.replay(previous);
    return this.answer(session, session.reset(kwargs.value), requestId);
  }

  private step(session: Session, message: Record<string, unknown>): Pending {
    const errors = envelopeWithDataErrors(message, this.envelopeKeys());
    if (errors.length > 0) return this.validationError(errors);
    const requestId = this.requestId(message);
    const previous = this.recorded(session, requestId);
    if (previous !== undefined) return this.replay(previous);
    const decoded = decodeOpenEnvJson(this.ctx.spec.action, message.data, { registry: this.ctx.registry });
    if (!decoded.ok) {
      this.ctx.manager.rejected(new ConnectError("invalid action", Code.InvalidArgument));
      return this.validationError(decoded.errors);
    }
    const params = { requestId };
    const outcome = session.started ? session.step(decoded.message, params) : stepStarted(session, decoded.message, params);
    return this.answer(session, outcome, requestId);
  }

  private envelopeKeys(): readonly string[] {
    return this.extensions ? EXTENDED_ENVELOPE_KEYS : ENVELOPE_KEYS;
  }

  /** A frame's `request_id` (with `?extensions=1`), for answering a re-sent frame from the session's record. */
  private requestId(message: Record<string, unknown>): string | undefined {
    const id = message.request_id;
    return typeof id === "string" && id !== "" ? id : undefined;
  }

  /** The recorded answer to a frame re-sent after a resume (undefined when it was not seen): replayed, not applied again. */
  private recorded(session: Session, requestId: string | undefined): string | Promise<string> | undefined {
    return requestId === undefined ? undefined : (session.records.get(recordKey(requestId)) as string | Promise<string> | undefined);
  }

  private replay(frame: string | Promise<string>): Pending {
    if (typeof frame === "string") return this.send(frame);
    return frame.then((text) => this.send(text));
  }

  /** Sends a reset's or step's observation (or its error): now when it is known, else when it is. */
  private answer(session: Session, outcome: StepRecord | Promise<StepRecord>, requestId?: string): Pending {
    const frame: string | Promise<string> =
      outcome instanceof Promise
        ? outcome.then(
            (record) => this.observationFrame(session, record),
            (err: unknown) => this.executionErrorFrame(ConnectError.from(err, Code.Internal)),
          )
        : this.observationFrame(session, outcome);
    if (requestId !== undefined) session.records.remember(recordKey(requestId), frame);
    return this.replay(frame);
  }

  private async state(session: Session, message: Record<string, unknown>): Promise<void> {
    const errors = extraKeys(message, ["type"]);
    if (errors.length > 0) return this.validationError(errors);
    try {
      const state = await session.state();
      this.send(`{"type":"state","data":${JSON.stringify(stateJson(this.ctx.spec.state, state, this.ctx.registry))}}`);
    } catch (err) {
      this.executionError(ConnectError.from(err, Code.Internal));
    }
  }

  private async close(message: Record<string, unknown>): Promise<void> {
    const errors = extraKeys(message, ["type"]);
    if (errors.length > 0) return this.validationError(errors);
    this.ending = true;
    await this.endSession({ code: Code.NotFound, message: "the client sent close" });
    this.closeSocket(NORMAL, "");
  }

  private async mcp(session: Session, message: Record<string, unknown>): Promise<void> {
    const errors = envelopeWithDataErrors(message);
    if (errors.length > 0) return this.validationError(errors);
    const response = await this.ctx.jsonRpc(message.data, { session });
    this.send(`{"type":"mcp","data":${JSON.stringify(response)}}`);
  }

  private observationFrame(session: Session, record: StepRecord): string {
    const extras = { extensions: this.extensions, sessionId: this.extensions ? session.id : undefined };
    return `{"type":"observation","data":${resultPayload(this.ctx.spec, record, this.ctx.registry, extras)}}`;
  }

  private validationError(errors: OpenEnvFieldError[]): void {
    this.sendError("Invalid message", "VALIDATION_ERROR", { errors: pydanticErrors(errors, true) });
  }

  private executionError(err: ConnectError): void {
    this.send(this.executionErrorFrame(err));
  }

  private executionErrorFrame(err: ConnectError): string {
    return executionErrorFrame(err, this.extensions);
  }

  /** A loop-level failure: OpenEnv sends one SESSION_ERROR frame and closes normally. */
  private fatal(message: string): void {
    this.ending = true;
    this.sendError(message, "SESSION_ERROR");
    this.closeSocket(NORMAL, "");
    void this.endSession({ code: Code.Aborted, message: `WebSocket session error: ${message}` });
  }

  private sendError(message: string, code: string, extra: JsonObject = {}): void {
    this.sendJson(errorFrame(message, code, extra));
  }

  private sendJson(value: JsonObject): void {
    this.send(JSON.stringify(value));
  }

  private send(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
  }

  private closeSocket(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) {
      this.ws.close(code, truncateReason(reason));
    }
  }

  private async endSession(reason: CloseReason): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session === undefined) return;
    session.release(this);
    await session.close(reason);
  }
}

/** Where a WebSocket frame's reply is recorded in the session (apart from Step streams' request ids). */
function recordKey(requestId: string): string {
  return `ws:${requestId}`;
}
