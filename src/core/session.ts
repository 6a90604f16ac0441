import { randomUUID } from "node:crypto";
import type { JsonObject, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Environment, EnvironmentSpec } from "../server/environment.js";
import { Attachment, type CloseReason, type SessionHolder } from "./attachment.js";
import { type PartialListener, ResetCall, StepCall } from "./environment-calls.js";
import { Episode, type StepRecord } from "./episode.js";
import { RequestRecords } from "./request-records.js";
import { type ExecutorTiming, SerialExecutor } from "./serial-executor.js";
import { noObserver, type SessionObserver } from "./session-observer.js";

export type { CloseReason, SessionHolder } from "./attachment.js";
export type { PartialListener } from "./environment-calls.js";
export type { PartialRecord, StepRecord } from "./episode.js";

/** A reset's arguments, whatever transport they came from. */
export interface ResetArgs {
  readonly seed?: bigint | undefined;
  readonly episodeId?: string | undefined;
  readonly options?: JsonObject | undefined;
  readonly timeoutMs?: number | undefined;
}

/** A step's arguments, whatever transport they came from. */
export interface StepArgs {
  readonly requestId?: string | undefined;
  readonly timeoutMs?: number | undefined;
  /** Receives the step's partial observations; without one they are dropped. */
  readonly partials?: PartialListener | undefined;
}

/** Timing limits a session applies. */
export interface SessionTiming extends ExecutorTiming {
  /** How long a session whose holder dropped stays open for a new holder to resume it; 0 closes it once its step ends. */
  readonly resumeGraceMs: number;
}

/** How a session is set up by its manager. */
export interface SessionConfig {
  readonly timing: SessionTiming;
  /** Replies remembered for request-id deduplication. */
  readonly recordSize: number;
  /** Called once, when the session starts closing. */
  readonly onClosed: (session: Session) => void;
  /** Told of every call's latency and outcome, and of resumes. */
  readonly observer?: SessionObserver;
}

/**
 * One environment instance with its episode: the one API every transport
 * drives. Calls run one at a time, in arrival order, whatever transport they
 * come from; a holder (a Step stream, a WebSocket) may attach to drive it and
 * resume it after a dropped connection.
 */
export class Session {
  readonly createdAt = Date.now();
  /** Replies to recent request ids, so a retried request is answered, not applied twice. */
  readonly records: RequestRecords<unknown>;
  private closeReason: CloseReason | undefined;
  private readonly episode: Episode;
  private readonly executor: SerialExecutor;
  private readonly attachment: Attachment;
  private readonly closeListeners: Array<(reason: CloseReason) => void> = [];
  private readonly observer: SessionObserver;
  /** A holder attached once already: the next attach is a resume (or a takeover). */
  private held = false;

  constructor(
    readonly id: string,
    env: Environment,
    readonly spec: EnvironmentSpec,
    private readonly config: SessionConfig,
  ) {
    this.episode = new Episode(env, spec);
    this.records = new RequestRecords(config.recordSize);
    const observer = config.observer ?? noObserver;
    this.observer = observer;
    this.executor = new SerialExecutor(
      config.timing,
      () => {
        void this.close({
          code: Code.Aborted,
          message: `the environment did not stop within ${config.timing.abortGraceMs} ms after a step's deadline`,
        });
      },
      (task, error) => {
        observer.call(task instanceof StepCall ? "step" : "reset", (performance.now() - task.submitted) / 1000, error?.code);
      },
    );
    this.attachment = new Attachment(id, (reason) => void this.close(reason));
  }

  /** The current episode id (empty before the first reset). */
  get episodeId(): string {
    return this.episode.env.episodeId;
  }

  /** Steps taken in the current episode. */
  get stepCount(): number {
    return this.episode.env.stepCount;
  }

  /** True once the session has had a reset, i.e. it has an episode to step. */
  get started(): boolean {
    return this.episode.hasStarted;
  }

  /** When the session last reset, stepped or was attached (`Date.now()`), for the idle timeout. */
  get lastActivity(): number {
    return this.episode.lastActivity;
  }

  /** Why the session ended; undefined while it is open. */
  get closed(): CloseReason | undefined {
    return this.closeReason;
  }

  /** True while a call runs or waits: the session is in use, whatever its last activity. */
  get busy(): boolean {
    return this.executor.busy;
  }

  /** True while a holder (a Step stream, a WebSocket) drives the session. */
  get attached(): boolean {
    return this.attachment.held;
  }

  /** Starts a new episode. */
  reset(args: ResetArgs): Promise<StepRecord> {
    this.episode.touch();
    const call = new ResetCall(this.episode, args.episodeId ?? randomUUID(), args.seed, args.options ?? {});
    const answer = this.executor.submit(call, args.timeoutMs);
    return answer instanceof Promise ? answer : Promise.resolve(answer);
  }

  /**
   * Applies an action, already decoded and validated. Returns the record itself
   * when the environment answered synchronously with nothing queued before it
   * (no promise on the hot path), a promise otherwise; errors always come as a
   * rejected promise.
   */
  step(action: Message, args: StepArgs = {}): StepRecord | Promise<StepRecord> {
    if (!this.episode.hasStarted) {
      const error = new ConnectError(`step before reset: session ${this.id} has no episode yet; call Reset first`, Code.FailedPrecondition);
      this.observer.call("step", 0, error.code);
      return Promise.reject(error);
    }
    this.episode.touch();
    return this.executor.submit(new StepCall(this.episode, action, this.id, args.requestId ?? "", args.partials), args.timeoutMs);
  }

  /** Reads the environment's state, after the calls before it, so it never sees a half-applied step. */
  state(): Promise<Message> {
    const observer = this.observer;
    const started = performance.now();
    const answered = (error: ConnectError | undefined): void => observer.call("state", (performance.now() - started) / 1000, error?.code);
    if (this.closeReason !== undefined) {
      const error = this.closedError();
      answered(error);
      return Promise.reject(error);
    }
    return this.executor
      .enqueue(() => this.episode.state())
      .then(
        (state) => {
          answered(undefined);
          return state;
        },
        (err: unknown) => {
          const error = ConnectError.from(err, Code.Internal);
          answered(error);
          throw error;
        },
      );
  }

  /** Registers a callback for when the session closes; returns an unregister function. */
  onClose(listener: (reason: CloseReason) => void): () => void {
    this.closeListeners.push(listener);
    return () => {
      const i = this.closeListeners.indexOf(listener);
      if (i >= 0) this.closeListeners.splice(i, 1);
    };
  }

  /** Attaches `holder` to drive the session, taking it over from any other holder. */
  attach(holder: SessionHolder): void {
    this.episode.touch();
    if (this.held) this.observer.resumed();
    this.held = true;
    this.attachment.take(holder);
  }

  /** `holder` lets go of the session, which stays open. */
  release(holder: SessionHolder): void {
    this.attachment.release(holder);
  }

  /**
   * `holder` lost its connection: the session stays open for the resume grace
   * for another holder to attach, then closes. With no grace it closes as soon
   * as `settled` (the holder's running work) resolves, unless attached again.
   */
  drop(holder: SessionHolder, settled: Promise<void>): void {
    this.attachment.drop(holder, this.config.timing.resumeGraceMs, settled);
  }

  /** Ends the session: aborts a running call, waits for it (bounded), then closes the environment. */
  async close(reason: CloseReason): Promise<void> {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    this.executor.close(
      () => this.closedError(),
      () => new ConnectError(reason.message, reason.code),
    );
    this.config.onClosed(this);
    for (const listener of this.closeListeners.splice(0)) listener(reason);
    this.attachment.closed(reason);
    // Wait (bounded) for a running call to stop before closing the environment under it.
    if (this.executor.busy) await Promise.race([this.executor.idle(), delay(this.config.timing.abortGraceMs)]);
    try {
      await this.episode.env.close();
    } catch {
      // The session is gone either way; a failing close must not affect the caller.
    }
  }

  private closedError(): ConnectError {
    const reason = this.closeReason as CloseReason;
    return new ConnectError(`session ${this.id} is closed: ${reason.message}`, Code.NotFound);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
