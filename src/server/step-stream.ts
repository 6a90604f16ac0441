import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  StateResponseSchema,
  type StepRequest,
  type StepResponse,
  StepResponseSchema,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { AsyncQueue } from "../protocol/async-queue.js";
import { toStepError } from "../protocol/errors.js";
import { decodeAction, durationMs, toStepResult } from "./connect-codec.js";
import type { EnvironmentSpec } from "./environment.js";
import type { ForwardedHeaders, StepRelay } from "./placement.js";
import type { CloseReason, PartialRecord, Session, StepRecord } from "./session.js";
import type { SessionManager } from "./session-manager.js";

/** Serves a Step stream for connect-node: requests from its iterable, replies through a queue. */
export function stepStreamHandler(
  manager: SessionManager,
  spec: EnvironmentSpec,
  ctx: HandlerContext,
  options: StepStreamOptions,
  requests: AsyncIterable<StepRequest>,
): AsyncIterable<StepResponse> {
  const out = new AsyncQueue<StepResponse>();
  const keepSession = wantsKeepSession(ctx.requestHeader.get(keepSessionHeader));
  const stream = new StepStream(manager, spec, out, ctx.signal, { ...options, keepSession, requestHeaders: ctx.requestHeader });
  void (async () => {
    try {
      for await (const req of requests) stream.feed(req);
      // A client reset (RST_STREAM) also ends the request iterable, just before the
      // context's signal aborts: wait a turn so that a cancel is a drop (abort()
      // keeps the session for a resume) and only a real half-close ends the session.
      await new Promise((resolve) => setImmediate(resolve));
      stream.finish();
    } catch (err) {
      stream.abort(err);
    }
  })();
  return out;
}

/** Options of the Step stream handler. */
export interface StepStreamOptions {
  /** Replies remembered per session for request-id deduplication. */
  readonly recordSize: number;
  /**
   * The session outlives the stream (until CloseSession or the idle timeout), so that
   * short-lived clients such as `openenv step` can drive one session across many streams.
   * Set by the request header {@link keepSessionHeader}.
   */
  readonly keepSession?: boolean;
  /** The request's headers, forwarded when the stream is relayed to another process ({@link serveCluster}). */
  readonly requestHeaders?: ForwardedHeaders;
}

/** Request header of a Step stream whose session should outlive the stream. */
export const keepSessionHeader = "openenv-keep-session";

/** Whether a request asked to keep its session after the stream ends. */
export function wantsKeepSession(value: string | string[] | null | undefined): boolean {
  const v = Array.isArray(value) ? value[0] : value;
  return v?.trim().toLowerCase() === "true";
}

type Reply = StepResponse["kind"];

/** Where a Step stream's replies go: a queue for connect-node, or an HTTP/2 stream directly (fast path). */
export interface ReplySink {
  push(res: StepResponse): void;
  /** The stream ended normally. */
  end(): void;
  /** The stream ends with this error. */
  fail(err: ConnectError): void;
}

/**
 * Serves one Step stream: attaches it to a session, dispatches its messages in
 * order and writes one reply per message (plus partials), tagged with the
 * message's request id. Transport-neutral: requests are pushed in with
 * {@link feed}, the end of input is {@link finish} or {@link abort}.
 */
export class StepStream {
  private session: Session | undefined;
  private pending = 0;
  private idle: (() => void) | undefined;
  private ending: CloseReason | undefined;
  private backlog: StepRequest[] = [];
  private blocked = false;
  private inputDone: "finish" | undefined;
  private stopped = false;
  /** Set once the stream relays to the process that owns its session (serveCluster); `blocked` stays true then. */
  private relay: StepRelay | undefined;
  private readonly unlisten: () => void = () => {};

  constructor(
    private readonly manager: SessionManager,
    private readonly spec: EnvironmentSpec,
    private readonly out: ReplySink,
    signal: AbortSignal,
    private readonly options: StepStreamOptions,
  ) {
    if (signal.aborted) {
      queueMicrotask(() => this.abort(signal.reason));
    } else {
      // A bidi handler blocked waiting for the next request does not notice shutdown by itself.
      const onAbort = (): void => this.abort(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      // The fast path passes the server-wide shutdown signal: a stream that ended must let go of it.
      this.unlisten = () => signal.removeEventListener("abort", onAbort);
    }
  }

  /** Handles the next request of the stream. */
  feed(req: StepRequest): void {
    if (this.stopped || this.ending !== undefined) return;
    if (this.blocked) {
      // The relay check costs nothing on a local stream: it is never blocked between steps.
      if (this.relay !== undefined) this.relay.send(req);
      else this.backlog.push(req);
      return;
    }
    const setup = this.dispatch(req);
    if (setup !== undefined) this.block(setup);
  }

  /** The client half-closed the stream: finish what is running, then end the session and the stream. */
  finish(): void {
    if (this.stopped) return;
    if (this.relay !== undefined) {
      this.stopped = true;
      this.unlisten();
      this.relay.end();
      return;
    }
    this.inputDone = "finish";
    if (!this.blocked) void this.complete();
  }

  /** The stream broke (client gone) or the server is shutting down. */
  abort(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unlisten();
    this.backlog = [];
    const cause = ConnectError.from(reason, Code.Internal);
    if (this.relay !== undefined) {
      if (this.isShutdown(cause)) this.relay.drain(cause);
      else this.relay.abort(cause);
      return;
    }
    if (this.ending === undefined && this.isShutdown(cause)) {
      // Graceful shutdown: let running steps finish and deliver their replies first.
      void this.drained().then(() => {
        this.detach();
        this.out.fail(cause);
      });
      return;
    }
    // The client went away (or the stream broke): keep the session for a resume.
    this.dropped();
    this.out.fail(cause);
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
      if (this.inputDone === "finish" && !this.blocked) void this.complete();
    });
  }

  private async complete(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.unlisten();
    await this.drained();
    // Client half-close: the session ends with the stream, as OpenEnv's WebSocket `close` does,
    // unless the client asked to keep it (then it stays, detached, like a unary Reset's session).
    const session = this.session;
    this.detach();
    if (session !== undefined && this.options.keepSession !== true) {
      await session.close({ code: Code.NotFound, message: "the client closed its stream" });
    }
    this.out.end();
  }

  private isShutdown(err: ConnectError): boolean {
    return err.code === Code.Unavailable;
  }

  /** Handles one request; returns a promise only when it must finish before the next is read. */
  private dispatch(req: StepRequest): Promise<void> | undefined {
    const id = req.requestId;
    const command = req.command;
    if (req.sessionId !== "" && this.session?.id !== req.sessionId) {
      if (this.session !== undefined) {
        this.reply(
          id,
          errorKind(new ConnectError(`this stream is attached to session ${this.session.id}, not ${req.sessionId}`, Code.InvalidArgument)),
        );
        return undefined;
      }
      if (this.relayTo(req.sessionId, req)) return undefined;
      const attached = this.attach(req.sessionId, id);
      if (!attached) return undefined;
      if (command.case === undefined) {
        this.track(this.stateReply(), id);
        return undefined;
      }
    }
    switch (command.case) {
      case "action": {
        const session = this.session;
        if (session === undefined) {
          this.reply(
            id,
            errorKind(
              new ConnectError(
                "step before reset: this stream has no session; send a reset or a session_id first",
                Code.FailedPrecondition,
              ),
            ),
          );
          return undefined;
        }
        if (this.replay(session, id)) return undefined;
        let work: Reply | Promise<Reply>;
        try {
          const action = decodeAction(this.spec, command.value);
          const timeoutMs = durationMs(req.timeout);
          const outcome = session.stepNow(action, { requestId: id, timeoutMs, onPartial: (p) => this.partial(id, session, p) });
          // A synchronous environment answers here and now: no promise per step.
          work = outcome instanceof Promise ? outcome.then((rec) => this.resultKind(rec), errorKindFrom) : this.resultKind(outcome);
        } catch (err) {
          work = errorKindFrom(err);
        }
        this.track(work, id, session);
        return undefined;
      }
      case "reset": {
        const reset = command.value;
        if (reset.sessionId !== "" && this.session?.id !== reset.sessionId) {
          if (this.session !== undefined) {
            this.reply(
              id,
              errorKind(
                new ConnectError(`this stream is attached to session ${this.session.id}, not ${reset.sessionId}`, Code.InvalidArgument),
              ),
            );
            return undefined;
          }
          if (this.relayTo(reset.sessionId, req)) return undefined;
          if (!this.attach(reset.sessionId, id)) return undefined;
        }
        if (this.session === undefined) {
          return this.manager.open().then(
            (session) => {
              if (this.stopped) {
                // The stream ended while the session was being created: nobody can learn its id.
                void session.close({ code: Code.Canceled, message: "the stream ended before its session was ready" });
                return;
              }
              this.adopt(session);
              this.startReset(session, req);
            },
            (err: unknown) => this.reply(id, errorKindFrom(err)),
          );
        }
        if (this.replay(this.session, id)) return undefined;
        this.startReset(this.session, req);
        return undefined;
      }
      case "state": {
        if (this.session === undefined) {
          this.reply(id, errorKind(new ConnectError("state before reset: this stream has no session", Code.FailedPrecondition)));
          return undefined;
        }
        this.track(this.stateReply(), id);
        return undefined;
      }
      default:
        if (req.sessionId === "") {
          this.reply(id, errorKind(new ConnectError("StepRequest.command is required: set action, reset or state", Code.InvalidArgument)));
        }
        return undefined;
    }
  }

  private startReset(session: Session, req: StepRequest): void {
    const reset = req.command.value as NonNullable<Extract<StepRequest["command"], { case: "reset" }>["value"]>;
    let work: Promise<Reply>;
    try {
      work = session
        .reset({ seed: reset.seed, episodeId: reset.episodeId, options: reset.options, timeoutMs: durationMs(req.timeout) })
        .then((rec) => this.resultKind(rec), errorKindFrom);
    } catch (err) {
      work = Promise.resolve(errorKindFrom(err));
    }
    this.track(work, req.requestId, session);
  }

  private stateReply(): Promise<Reply> {
    const session = this.session as Session;
    return session.state().then(
      (state) => ({
        case: "state" as const,
        value: create(StateResponseSchema, {
          sessionId: session.id,
          state: anyPack(this.spec.state, state),
          episodeId: session.episodeId,
          stepCount: session.stepCount,
        }),
      }),
      errorKindFrom,
    );
  }

  private resultKind(rec: StepRecord): Reply {
    return { case: "result", value: toStepResult(this.spec, rec) };
  }

  /** Answers a repeated request id from the session's record. */
  private replay(session: Session, id: string): boolean {
    if (id === "") return false;
    const previous = session.records.get(id) as Reply | Promise<Reply> | undefined;
    if (previous === undefined) return false;
    this.track(previous, id, undefined, true);
    return true;
  }

  /** Sends the reply once known (now, or when the promise settles), remembering it for replays. */
  private track(work: Reply | Promise<Reply>, id: string, remember?: Session, replayed = false): void {
    if (remember !== undefined && id !== "") remember.remember(id, work, this.options.recordSize);
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

  private reply(id: string, kind: Reply): void {
    this.send(id, kind, false);
  }

  private send(id: string, kind: Reply, replayed: boolean): void {
    // A complete message literal: create() would copy it field by field on the hot path.
    this.out.push({ $typeName: "openenv.v1.StepResponse", requestId: id, sessionId: this.session?.id ?? "", kind, replayed });
  }

  private partial(id: string, session: Session, p: PartialRecord): void {
    this.out.push(
      create(StepResponseSchema, {
        requestId: id,
        sessionId: session.id,
        kind: {
          case: "partial",
          value: { observation: anyPack(this.spec.partial ?? this.spec.observation, p.observation), progress: p.progress },
        },
      }),
    );
  }

  /**
   * A session of another process (serveCluster): from now on this stream relays every
   * request to the owner, which attaches it there and answers; false for a local id.
   */
  private relayTo(sessionId: string, req: StepRequest): boolean {
    const remote = this.manager.placement?.remote(sessionId);
    if (remote === undefined) return false;
    const relay = remote.step(this.out, this.options.requestHeaders, sessionId);
    if (relay instanceof ConnectError) {
      this.reply(req.requestId, errorKind(relay));
      return true;
    }
    this.relay = relay;
    this.blocked = true;
    relay.send(req);
    for (const next of this.backlog) relay.send(next);
    this.backlog = [];
    if (this.inputDone === "finish") {
      this.stopped = true;
      this.unlisten();
      relay.end();
    }
    return true;
  }

  /** Attaches an existing session, taking it over from any stream that holds it. */
  private attach(sessionId: string, requestId: string): boolean {
    const session = this.manager.find(sessionId);
    if (session === undefined || session.closed !== undefined) {
      this.reply(requestId, errorKind(new ConnectError(`session '${sessionId}' not found`, Code.NotFound)));
      return false;
    }
    this.adopt(session);
    return true;
  }

  private adopt(session: Session): void {
    const previous = session.attachment;
    session.attachment = {
      detach: (reason) => {
        if (this.session === session) this.session = undefined;
        this.ending = reason;
        this.out.fail(new ConnectError(reason.message, reason.code));
      },
    };
    previous?.detach({ code: Code.Aborted, message: `session ${session.id} was attached to another stream` });
    this.session = session;
    session.lastActivity = Date.now();
    if (session.resumeTimer !== undefined) {
      clearTimeout(session.resumeTimer);
      session.resumeTimer = undefined;
    }
  }

  private detach(): void {
    const session = this.session;
    if (session === undefined) return;
    if (session.attachment !== undefined) session.attachment = undefined;
    this.session = undefined;
  }

  /** The stream broke: close the session after the resume grace unless another stream attaches. */
  private dropped(): void {
    const session = this.session;
    this.detach();
    if (session === undefined || session.closed !== undefined || this.options.keepSession === true) return;
    const grace = this.manager.limits.resumeGraceMs;
    const expire = (): void => {
      session.resumeTimer = undefined;
      if (session.attachment === undefined) {
        void session.close({ code: Code.Aborted, message: "the client's stream dropped and no stream resumed the session" });
      }
    };
    if (grace <= 0) {
      // Still wait for a running step, so its slot is freed once it finishes, not before.
      void this.drained().then(expire);
      return;
    }
    session.resumeTimer = setTimeout(expire, grace);
    session.resumeTimer.unref();
  }
}

function errorKind(err: ConnectError): Reply {
  return { case: "error", value: toStepError(err) };
}

function errorKindFrom(err: unknown): Reply {
  return errorKind(ConnectError.from(err, Code.Internal));
}
