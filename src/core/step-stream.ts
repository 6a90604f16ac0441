import { Code, ConnectError } from "@connectrpc/connect";
import type { StepRequest } from "../../gen/openenv/v1/environment_service_pb.js";
import type { EnvironmentSpec } from "../server/environment.js";
import type { CloseReason, PartialRecord, Session, SessionHolder } from "./session.js";
import type { ReplySink, SessionSource, StepInput, StepStreamOptions } from "./step-input.js";
import { decodeAction, durationMs, errorReply, partialResponse, type Reply, resultReply, stateReply } from "./step-messages.js";

/**
 * Serves one Step stream, whatever its transport: attaches it to a session,
 * dispatches its messages in order and writes one reply per message (plus
 * partials), tagged with the message's request id. Requests are pushed in
 * with {@link feed}; the end of input is {@link finish} or {@link abort}.
 */
export class StepStream implements StepInput, SessionHolder {
  private session: Session | undefined;
  private pending = 0;
  private idle: (() => void) | undefined;
  private ending: CloseReason | undefined;
  private backlog: StepRequest[] = [];
  /** A session is being opened: requests wait in the backlog, in order. */
  private blocked = false;
  private inputDone = false;
  private stopped = false;

  constructor(
    private readonly sessions: SessionSource,
    private readonly spec: EnvironmentSpec,
    private readonly out: ReplySink,
    private readonly options: StepStreamOptions = {},
  ) {}

  /** True once the stream holds a session or is opening one: its requests are its own from then on. */
  get bound(): boolean {
    return this.session !== undefined || this.blocked;
  }

  feed(req: StepRequest): void {
    if (this.stopped || this.ending !== undefined) return;
    if (this.blocked) {
      this.backlog.push(req);
      return;
    }
    const setup = this.dispatch(req);
    if (setup !== undefined) this.block(setup);
  }

  finish(): void {
    if (this.stopped) return;
    this.inputDone = true;
    if (!this.blocked) void this.complete();
  }

  abort(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.backlog = [];
    const cause = ConnectError.from(reason, Code.Internal);
    if (this.ending === undefined && cause.code === Code.Unavailable) {
      // Graceful shutdown: let running steps finish and deliver their replies first.
      void this.drained().then(() => {
        this.release();
        this.out.fail(cause);
      });
      return;
    }
    // The client went away (or the stream broke): keep the session for a resume.
    const session = this.session;
    if (session !== undefined) {
      this.session = undefined;
      if (this.options.keepSession === true) session.release(this);
      else session.drop(this, this.drained());
    }
    this.out.fail(cause);
  }

  /** The session left this stream: it closed, or another stream took it over. */
  detached(reason: CloseReason): void {
    this.session = undefined;
    this.ending = reason;
    this.out.fail(new ConnectError(reason.message, reason.code));
  }

  /** Sends a step's partial observation. */
  partial(requestId: string, p: PartialRecord): void {
    this.out.push(partialResponse(this.spec, requestId, this.session?.id ?? "", p));
  }

  private block(setup: Promise<void>): void {
    this.blocked = true;
    void setup.then(() => {
      this.blocked = false;
      while (this.backlog.length > 0 && !this.blocked && !this.stopped) {
        const next = this.backlog.shift() as StepRequest;
        const s = this.dispatch(next);
        if (s !== undefined) {
          this.block(s);
          return;
        }
      }
      if (this.inputDone && !this.blocked) void this.complete();
    });
  }

  private async complete(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.drained();
    // Client half-close: the session ends with the stream, as OpenEnv's WebSocket `close` does,
    // unless the client asked to keep it (then it stays, detached, like a unary Reset's session).
    const session = this.session;
    this.release();
    if (session !== undefined && this.options.keepSession !== true) {
      await session.close({ code: Code.NotFound, message: "the client closed its stream" });
    }
    this.out.end();
  }

  /** Handles one request; returns a promise only when it must finish before the next is read. */
  private dispatch(req: StepRequest): Promise<void> | undefined {
    const session = this.session;
    // The hot path: an action on the stream's own session.
    if (req.command.case === "action" && session !== undefined && (req.sessionId === "" || req.sessionId === session.id)) {
      this.step(session, req, req.command.value);
      return undefined;
    }
    const id = req.requestId;
    const command = req.command;
    if (req.sessionId !== "" && session?.id !== req.sessionId) {
      if (session !== undefined) return this.wrongSession(id, req.sessionId);
      if (!this.attach(req.sessionId, id)) return undefined;
      if (command.case === undefined) {
        // Attaching by id alone answers with the session's state.
        this.track(stateReply(this.spec, this.session as unknown as Session), id);
        return undefined;
      }
    }
    switch (command.case) {
      case "action": {
        if (this.session === undefined) {
          const err = new ConnectError(
            "step before reset: this stream has no session; send a reset or a session_id first",
            Code.FailedPrecondition,
          );
          this.send(id, errorReply(err), false);
          return undefined;
        }
        this.step(this.session, req, command.value);
        return undefined;
      }
      case "reset": {
        const target = command.value.sessionId;
        if (target !== "" && this.session?.id !== target) {
          if (this.session !== undefined) return this.wrongSession(id, target);
          if (!this.attach(target, id)) return undefined;
        }
        const held = this.session;
        if (held === undefined) {
          return this.sessions.open().then(
            (opened) => {
              if (this.stopped) {
                // The stream ended while the session was being created: nobody can learn its id.
                void opened.close({ code: Code.Canceled, message: "the stream ended before its session was ready" });
                return;
              }
              this.hold(opened);
              this.reset(opened, req);
            },
            (err: unknown) => this.send(id, errorReply(err), false),
          );
        }
        if (id !== "" && this.replay(held, id)) return undefined;
        this.reset(held, req);
        return undefined;
      }
      case "state": {
        if (this.session === undefined) {
          this.send(id, errorReply(new ConnectError("state before reset: this stream has no session", Code.FailedPrecondition)), false);
          return undefined;
        }
        this.track(stateReply(this.spec, this.session), id);
        return undefined;
      }
      default:
        if (req.sessionId === "") {
          this.send(
            id,
            errorReply(new ConnectError("StepRequest.command is required: set action, reset or state", Code.InvalidArgument)),
            false,
          );
        }
        return undefined;
    }
  }

  private step(session: Session, req: StepRequest, any: Extract<StepRequest["command"], { case: "action" }>["value"]): void {
    const id = req.requestId;
    if (id !== "" && this.replay(session, id)) return;
    let work: Reply | Promise<Reply>;
    try {
      const action = decodeAction(this.spec, any);
      const outcome = session.step(action, { requestId: id, timeoutMs: durationMs(req.timeout), partials: this });
      // A synchronous environment answers here and now: no promise per step.
      work = outcome instanceof Promise ? outcome.then((rec) => resultReply(this.spec, rec), errorReply) : resultReply(this.spec, outcome);
    } catch (err) {
      // Only the action's decoding throws here: the session's own errors come as rejections.
      const error = ConnectError.from(err, Code.Internal);
      this.sessions.rejected(error);
      work = errorReply(error);
    }
    this.track(work, id, session);
  }

  private wrongSession(requestId: string, sessionId: string): undefined {
    const held = (this.session as Session).id;
    this.send(
      requestId,
      errorReply(new ConnectError(`this stream is attached to session ${held}, not ${sessionId}`, Code.InvalidArgument)),
      false,
    );
    return undefined;
  }

  private reset(session: Session, req: StepRequest): void {
    const reset = req.command.value as NonNullable<Extract<StepRequest["command"], { case: "reset" }>["value"]>;
    let work: Promise<Reply>;
    try {
      work = session
        .reset({ seed: reset.seed, episodeId: reset.episodeId, options: reset.options, timeoutMs: durationMs(req.timeout) })
        .then((rec) => resultReply(this.spec, rec), errorReply);
    } catch (err) {
      work = Promise.resolve(errorReply(err));
    }
    this.track(work, req.requestId, session);
  }

  /** Answers a repeated request id from the session's record. */
  private replay(session: Session, id: string): boolean {
    const previous = session.records.get(id) as Reply | Promise<Reply> | undefined;
    if (previous === undefined) return false;
    this.track(previous, id, undefined, true);
    return true;
  }

  /** Sends the reply once known (now, or when the promise settles), remembering it for replays. */
  private track(work: Reply | Promise<Reply>, id: string, remember?: Session, replayed = false): void {
    if (remember !== undefined && id !== "") remember.records.remember(id, work);
    if (!(work instanceof Promise)) {
      this.send(id, work, replayed);
      return;
    }
    this.pending++;
    void work.then((kind) => this.send(id, kind, replayed)).finally(() => this.settled());
  }

  private settled(): void {
    this.pending--;
    if (this.pending === 0 && this.idle !== undefined) {
      const idle = this.idle;
      this.idle = undefined;
      idle();
    }
  }

  private drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idle = resolve;
    });
  }

  private send(id: string, kind: Reply, replayed: boolean): void {
    // A complete message literal: create() would copy it field by field on the hot path.
    this.out.push({ $typeName: "openenv.v1.StepResponse", requestId: id, sessionId: this.session?.id ?? "", kind, replayed });
  }

  /** Attaches an existing session of this process, taking it over from any stream that holds it. */
  private attach(sessionId: string, requestId: string): boolean {
    const session = this.sessions.find(sessionId);
    if (session === undefined || session.closed !== undefined) {
      this.send(requestId, errorReply(this.sessions.missing(sessionId)), false);
      return false;
    }
    this.hold(session);
    return true;
  }

  private hold(session: Session): void {
    this.session = session;
    session.attach(this);
  }

  private release(): void {
    const session = this.session;
    if (session === undefined) return;
    this.session = undefined;
    session.release(this);
  }
}
