import { randomUUID } from "node:crypto";
import { create, type DescMessage, isMessage, type JsonObject, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Environment, EnvironmentSpec, MessageOrInit, StepContext, StepOutcome } from "./environment.js";

/** A step's or reset's outcome, normalised: what every transport serialises. */
export interface StepRecord {
  readonly observation: Message;
  readonly reward: number | undefined;
  readonly done: boolean;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly metadata: JsonObject | undefined;
  readonly rewardComponents: Readonly<Record<string, number>> | undefined;
  readonly stepCount: number;
  readonly episodeId: string;
}

/** A partial observation emitted during a step. */
export interface PartialRecord {
  readonly observation: Message;
  readonly progress: number | undefined;
}

/** Reset parameters, transport-neutral. */
export interface ResetParams {
  readonly seed?: bigint | undefined;
  readonly episodeId?: string | undefined;
  readonly options?: JsonObject | undefined;
  readonly timeoutMs?: number | undefined;
}

/** Step parameters, transport-neutral. */
export interface StepParams {
  readonly requestId?: string;
  readonly timeoutMs?: number | undefined;
  readonly onPartial?: ((partial: PartialRecord) => void) | undefined;
}

/** Timing limits a session applies. */
export interface SessionTiming {
  /** Default (and maximum) deadline of a reset or step. */
  readonly stepTimeoutMs: number;
  /** How long an environment may keep running after its deadline before the session is closed. */
  readonly abortGraceMs: number;
}

/** Why a session ended, for the error its stream or later calls receive. */
export interface CloseReason {
  readonly code: Code;
  readonly message: string;
}

type StepCall = (signal: () => AbortSignal, deadline: number, finished: () => boolean) => StepOutcome | PromiseLike<StepOutcome>;

/**
 * One environment instance and its episode bookkeeping. Operations run one at a
 * time, in arrival order, whatever transport they come from.
 */
export class Session {
  readonly createdAt = Date.now();
  lastActivity = Date.now();
  /** Set once the session has ended. */
  closed: CloseReason | undefined;
  /** Opaque per-transport data (e.g. the Step stream attached to the session). */
  attachment: { detach(reason: CloseReason): void } | undefined;
  /** Pending close of a session whose stream dropped, cancelled when a stream resumes it. */
  resumeTimer: NodeJS.Timeout | undefined;
  /** Replies to recent request ids (or promises of them), so a retried request is answered, not applied twice. */
  readonly records = new Map<string, unknown>();

  private tail: Promise<void> = Promise.resolve();
  /** Operations scheduled and not finished (the running one included). */
  private queued = 0;
  private hasEpisode = false;
  private episodeDone = false;
  private inflight: AbortController | undefined;
  private readonly closeListeners: Array<(reason: CloseReason) => void> = [];

  constructor(
    readonly id: string,
    readonly env: Environment,
    readonly spec: EnvironmentSpec,
    private readonly timing: SessionTiming,
    private readonly onClosed: (session: Session) => void,
  ) {}

  /** The current episode id (empty before the first reset). */
  get episodeId(): string {
    return this.env.episodeId;
  }

  /** Steps taken in the current episode. */
  get stepCount(): number {
    return this.env.stepCount;
  }

  /** True once the session has had a reset, i.e. it has an episode to step. */
  get started(): boolean {
    return this.hasEpisode;
  }

  /** Registers a callback for when the session closes; returns an unregister function. */
  onClose(listener: (reason: CloseReason) => void): () => void {
    this.closeListeners.push(listener);
    return () => {
      const i = this.closeListeners.indexOf(listener);
      if (i >= 0) this.closeListeners.splice(i, 1);
    };
  }

  /** Remembers the reply to a request id, keeping the most recent `limit`. */
  remember(requestId: string, reply: unknown, limit: number): void {
    this.records.set(requestId, reply);
    if (this.records.size > limit) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
  }

  /** Starts a new episode. */
  reset(params: ResetParams): Promise<StepRecord> {
    return this.schedule(params.timeoutMs, (signal) => {
      const episodeId = params.episodeId ?? randomUUID();
      this.env.episodeId = episodeId;
      this.env.stepCount = 0;
      this.hasEpisode = true;
      this.episodeDone = false;
      this.lastActivity = Date.now();
      const options = params.options ?? {};
      const seed = params.seed;
      // The abort signal is made only if the environment looks at it: most never do.
      return this.env.reset({
        seed,
        episodeId,
        options,
        get signal() {
          return signal();
        },
      });
    });
  }

  /** Applies an action, already decoded and validated. */
  step(action: Message, params: StepParams = {}): Promise<StepRecord> {
    const now = this.stepNow(action, params);
    return isThenable(now) ? now : Promise.resolve(now);
  }

  /**
   * Applies an action; returns the record itself when the environment answered
   * synchronously with nothing queued before it (no promise on the hot path), a
   * promise otherwise. Errors of the synchronous case come back as a rejected promise.
   */
  stepNow(action: Message, params: StepParams = {}): StepRecord | Promise<StepRecord> {
    if (!this.hasEpisode) {
      return Promise.reject(
        new ConnectError(`step before reset: session ${this.id} has no episode yet; call Reset first`, Code.FailedPrecondition),
      );
    }
    return this.scheduleNow(
      params.timeoutMs,
      (signal, deadline, finished) => {
        if (!this.hasEpisode) {
          throw new ConnectError(`step before reset: session ${this.id} has no episode yet; call Reset first`, Code.FailedPrecondition);
        }
        if (this.episodeDone && this.spec.stepAfterDone !== "allow") {
          throw new ConnectError(`episode ${this.env.episodeId} is over; reset to start a new one`, Code.FailedPrecondition);
        }
        this.lastActivity = Date.now();
        const onPartial = params.onPartial;
        const partialSchema = this.spec.partial ?? this.spec.observation;
        const ctx: StepContext = {
          get signal() {
            return signal();
          },
          deadline,
          sessionId: this.id,
          requestId: params.requestId ?? "",
          emit: (partial: MessageOrInit<DescMessage>, progress?: number) => {
            if (finished() || onPartial === undefined) return;
            onPartial({ observation: toMessage(partialSchema, partial, "partial observation"), progress });
          },
        };
        return this.env.step(action, ctx);
      },
      true,
    );
  }

  /** Reads the environment's state. */
  async state(): Promise<Message> {
    this.assertOpen();
    // State reads go through the queue so they never observe a half-applied step.
    const value = await this.enqueue(async () => this.env.state);
    return toMessage(this.spec.state, value, "state");
  }

  /** Ends the session: aborts a running step, waits for it (bounded), then closes the environment. */
  async close(reason: CloseReason): Promise<void> {
    if (this.closed !== undefined) return;
    this.closed = reason;
    if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer);
    this.inflight?.abort(new ConnectError(reason.message, reason.code));
    this.onClosed(this);
    for (const listener of this.closeListeners.splice(0)) listener(reason);
    this.attachment?.detach(reason);
    this.attachment = undefined;
    // Wait (bounded) for a running step to stop before closing the environment under it.
    if (this.queued > 0) await Promise.race([this.tail, delay(this.timing.abortGraceMs)]);
    try {
      await this.env.close();
    } catch {
      // The session is gone either way; a failing close must not affect the caller.
    }
  }

  private assertOpen(): void {
    if (this.closed !== undefined) {
      throw new ConnectError(`session ${this.id} is closed: ${this.closed.message}`, Code.NotFound);
    }
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.tail.then(task);
    this.tail = run.then(
      () => {
        this.queued--;
      },
      () => {
        this.queued--;
      },
    );
    return run;
  }

  /**
   * Runs an environment call in the session's queue with a deadline. The caller's
   * promise settles at the deadline; the queue waits for the environment to stop
   * (up to `abortGraceMs`) and closes the session if it does not.
   */
  private schedule(timeoutMs: number | undefined, call: StepCall, isStep = false): Promise<StepRecord> {
    const now = this.scheduleNow(timeoutMs, call, isStep);
    return isThenable(now) ? now : Promise.resolve(now);
  }

  /**
   * Like {@link schedule}, but when nothing else is queued and the environment
   * answers synchronously, returns the record (or throws) without allocating
   * promises: the common case of a fast environment stepped over one stream.
   */
  private scheduleNow(timeoutMs: number | undefined, call: StepCall, isStep: boolean): StepRecord | Promise<StepRecord> {
    if (this.closed !== undefined) {
      return Promise.reject(new ConnectError(`session ${this.id} is closed: ${this.closed.message}`, Code.NotFound));
    }
    const budget = Math.min(timeoutMs ?? this.timing.stepTimeoutMs, this.timing.stepTimeoutMs);
    if (this.queued === 0) {
      this.queued++;
      let value: StepRecord | undefined;
      let error: unknown;
      let deferred: { resolve(v: StepRecord): void; reject(e: unknown): void } | undefined;
      const done = this.execute(
        budget,
        call,
        isStep,
        (v) => {
          if (deferred !== undefined) deferred.resolve(v);
          else value = v;
        },
        (e) => {
          if (deferred !== undefined) deferred.reject(e);
          else error = e;
        },
      );
      if (done === undefined) {
        this.queued--;
        if (value === undefined) return Promise.reject(error);
        return value;
      }
      this.tail = done.then(() => {
        this.queued--;
      });
      // The environment answered asynchronously: its settle/fail run in later ticks, after this.
      return new Promise<StepRecord>((resolve, reject) => {
        deferred = { resolve, reject };
      });
    }
    this.queued++;
    return new Promise<StepRecord>((resolve, reject) => {
      this.tail = this.tail.then(() => {
        if (this.closed !== undefined) {
          reject(new ConnectError(`session ${this.id} is closed: ${this.closed.message}`, Code.NotFound));
          this.queued--;
          return;
        }
        const done = this.execute(budget, call, isStep, resolve, reject);
        if (done === undefined) {
          this.queued--;
          return;
        }
        return done.then(() => {
          this.queued--;
        });
      });
    });
  }

  /**
   * Runs one environment call with a deadline and settles through the callbacks.
   * Returns undefined when it finished synchronously, or a promise that resolves
   * when the environment has stopped (its deadline may have passed before: the
   * caller is answered at the deadline, the queue waits up to `abortGraceMs` more
   * and closes the session if the environment still runs).
   */
  private execute(
    budget: number,
    call: StepCall,
    isStep: boolean,
    resolve: (record: StepRecord) => void,
    reject: (err: unknown) => void,
  ): Promise<void> | undefined {
    let controller: AbortController | undefined;
    const signal = (): AbortSignal => {
      controller ??= new AbortController();
      this.inflight = controller;
      return controller.signal;
    };
    let finished = false;
    const deadline = Date.now() + budget;
    const settle = (outcome: StepOutcome): void => {
      if (finished) return;
      finished = true;
      let record: StepRecord;
      try {
        record = this.record(outcome, isStep);
      } catch (err) {
        reject(ConnectError.from(err, Code.Internal));
        return;
      }
      resolve(record);
    };
    const fail = (err: unknown): void => {
      if (finished) return;
      finished = true;
      reject(ConnectError.from(err, Code.Internal));
    };
    let result: StepOutcome | PromiseLike<StepOutcome>;
    try {
      result = call(signal, deadline, () => finished);
    } catch (err) {
      if (this.inflight === controller) this.inflight = undefined;
      fail(err);
      return undefined;
    }
    if (!isThenable(result)) {
      if (this.inflight === controller) this.inflight = undefined;
      settle(result);
      return undefined;
    }
    const pending = result;
    return new Promise<void>((done) => {
      const timer = setTimeout(() => {
        fail(new ConnectError(`step exceeded its deadline of ${budget} ms`, Code.DeadlineExceeded));
        controller?.abort(new ConnectError("deadline exceeded", Code.DeadlineExceeded));
        const grace = setTimeout(() => {
          void this.close({
            code: Code.Aborted,
            message: `the environment did not stop within ${this.timing.abortGraceMs} ms after a step's deadline`,
          });
          done();
        }, this.timing.abortGraceMs);
        Promise.resolve(pending).then(
          () => clearTimeout(grace),
          () => clearTimeout(grace),
        );
      }, budget);
      Promise.resolve(pending).then(
        (outcome) => {
          clearTimeout(timer);
          settle(outcome);
          if (this.inflight === controller) this.inflight = undefined;
          done();
        },
        (err: unknown) => {
          clearTimeout(timer);
          fail(err);
          if (this.inflight === controller) this.inflight = undefined;
          done();
        },
      );
    });
  }

  /** Normalises an outcome and updates the episode bookkeeping. */
  private record(outcome: StepOutcome, isStep: boolean): StepRecord {
    if (outcome === null || typeof outcome !== "object" || outcome.observation === undefined) {
      throw new ConnectError("the environment returned no observation", Code.Internal);
    }
    const observation = toMessage(this.spec.observation, outcome.observation, "observation");
    if (isStep) this.env.stepCount++;
    const terminated = outcome.terminated === true;
    const truncated = outcome.truncated === true;
    const done = terminated || truncated;
    this.episodeDone = done;
    this.lastActivity = Date.now();
    return {
      observation,
      reward: outcome.reward ?? undefined,
      done,
      terminated,
      truncated,
      metadata: outcome.metadata,
      rewardComponents: outcome.rewardComponents,
      stepCount: this.env.stepCount,
      episodeId: this.env.episodeId,
    };
  }
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

/** Accepts a message of the schema or an init object; rejects a message of another type. */
export function toMessage(schema: DescMessage, value: unknown, what: string): Message {
  if (isMessage(value, schema)) return value;
  if (isMessage(value)) {
    throw new ConnectError(`the environment returned ${value.$typeName} as its ${what}, expected ${schema.typeName}`, Code.Internal);
  }
  if (value === null || typeof value !== "object") {
    throw new ConnectError(`the environment returned a ${typeof value} as its ${what}, expected ${schema.typeName}`, Code.Internal);
  }
  return create(schema, value as never);
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
