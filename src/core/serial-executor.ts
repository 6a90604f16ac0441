import { Code, ConnectError } from "@connectrpc/connect";

/**
 * One call into the environment (a reset or a step), run by a {@link SerialExecutor}.
 * A task is one object per call: it is also the context the environment sees
 * (its abort signal is made only if the environment asks for it), so the hot
 * path allocates no closures.
 */
export abstract class Task<R, T> {
  /** The call's deadline, a `Date.now()` timestamp; set when it starts. */
  deadline = 0;
  /** When the call was submitted (`performance.now()`), for its latency. */
  submitted = 0;
  /** Set once the caller has its answer (result, error or deadline): late partials are dropped. */
  finished = false;
  private controller: AbortController | undefined;

  /** Aborted when the call exceeds its deadline or the session closes. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }

  /** Calls the environment. */
  abstract start(): R | PromiseLike<R>;

  /** Turns the environment's answer into the caller's (may throw). */
  abstract finish(result: R): T;

  /** Aborts the call's signal, if the environment took it. */
  abort(reason: ConnectError): void {
    this.controller?.abort(reason);
  }
}

/** Timing limits of an executor. */
export interface ExecutorTiming {
  /** Default (and maximum) deadline of a call. */
  readonly stepTimeoutMs: number;
  /** How long an environment may keep running after its deadline before the session is closed. */
  readonly abortGraceMs: number;
}

/** Told once per task, when its caller has the answer (`error` undefined) or an error. */
export type AnswerListener = (task: Task<unknown, unknown>, error: ConnectError | undefined) => void;

/**
 * Runs a session's environment calls one at a time, in arrival order, each with
 * a deadline. A caller is answered at the deadline; the queue then waits up to
 * `abortGraceMs` for the environment to stop and reports it stuck if it does not.
 * A synchronous call with nothing queued before it is answered without promises.
 */
export class SerialExecutor {
  private tail: Promise<void> = Promise.resolve();
  /** Calls submitted and not finished (the running one included). */
  private queued = 0;
  private running: Task<unknown, unknown> | undefined;
  /** Set once the session closed: makes the error later calls are refused with. */
  private refusal: (() => ConnectError) | undefined;

  constructor(
    private readonly timing: ExecutorTiming,
    /** The environment ignored its deadline and abort signal for `abortGraceMs`. */
    private readonly onStuck: () => void,
    private readonly answered: AnswerListener = () => {},
  ) {}

  /** True while a call runs or waits. */
  get busy(): boolean {
    return this.queued > 0;
  }

  /** Resolves once every call submitted so far has finished. */
  idle(): Promise<void> {
    return this.queued === 0 ? Promise.resolve() : this.tail;
  }

  /**
   * Refuses calls from now on with the error `refusal` makes, and aborts the running
   * one with the error `reason` makes. Errors are made only when needed: a stack trace
   * costs more than a whole synchronous step.
   */
  close(refusal: () => ConnectError, reason: () => ConnectError): void {
    this.refusal ??= refusal;
    this.running?.abort(reason());
  }

  /**
   * Runs a task after the ones before it. Returns the answer itself when the
   * queue was empty and the environment answered synchronously, a promise
   * otherwise (errors of the synchronous case as a rejected promise).
   */
  submit<R, T>(task: Task<R, T>, timeoutMs: number | undefined): T | Promise<T> {
    task.submitted = performance.now();
    if (this.refusal !== undefined) return this.refuse(task, this.refusal());
    const budget = timeoutMs === undefined ? this.timing.stepTimeoutMs : Math.min(timeoutMs, this.timing.stepTimeoutMs);
    if (this.queued === 0) {
      this.queued = 1;
      task.deadline = Date.now() + budget;
      let result: R | PromiseLike<R>;
      try {
        result = task.start();
      } catch (err) {
        this.queued = 0;
        task.finished = true;
        return this.refuse(task, ConnectError.from(err, Code.Internal));
      }
      if (!isThenable(result)) {
        this.queued = 0;
        task.finished = true;
        let value: T;
        try {
          value = task.finish(result);
        } catch (err) {
          return this.refuse(task, ConnectError.from(err, Code.Internal));
        }
        this.answered(task as Task<unknown, unknown>, undefined);
        return value;
      }
      const answer = new Answer<R, T>(task, this.answered);
      this.tail = this.track(task, result, budget, answer).then(() => {
        this.queued--;
      });
      return answer.promise;
    }
    this.queued++;
    const answer = new Answer<R, T>(task, this.answered);
    this.tail = this.tail.then(() => {
      if (this.refusal !== undefined) {
        answer.fail(this.refusal());
        this.queued--;
        return;
      }
      task.deadline = Date.now() + budget;
      let result: R | PromiseLike<R>;
      try {
        result = task.start();
      } catch (err) {
        answer.fail(err);
        this.queued--;
        return;
      }
      return this.track(task, result, budget, answer).then(() => {
        this.queued--;
      });
    });
    return answer.promise;
  }

  private refuse<T>(task: Task<unknown, T>, error: ConnectError): Promise<T> {
    this.answered(task, error);
    return Promise.reject(error);
  }

  /** Runs `work` after the calls before it, without a deadline (state reads). */
  enqueue<T>(work: () => Promise<T>): Promise<T> {
    this.queued++;
    const run = this.tail.then(work);
    const done = (): void => {
      this.queued--;
    };
    this.tail = run.then(done, done);
    return run;
  }

  /**
   * Answers a call whose environment returned a promise; resolves when the
   * environment has stopped (which may be after the caller's deadline).
   */
  private track<R, T>(task: Task<R, T>, pending: R | PromiseLike<R>, budget: number, answer: Answer<R, T>): Promise<void> {
    this.running = task as Task<unknown, unknown>;
    return new Promise<void>((stopped) => {
      const timer = setTimeout(() => {
        const late = new ConnectError(`step exceeded its deadline of ${budget} ms`, Code.DeadlineExceeded);
        answer.fail(late);
        task.abort(new ConnectError("deadline exceeded", Code.DeadlineExceeded));
        const grace = setTimeout(() => {
          this.onStuck();
          stopped();
        }, this.timing.abortGraceMs);
        Promise.resolve(pending).then(
          () => clearTimeout(grace),
          () => clearTimeout(grace),
        );
      }, budget);
      const end = (): void => {
        clearTimeout(timer);
        if (this.running === task) this.running = undefined;
        stopped();
      };
      Promise.resolve(pending).then(
        (result) => {
          answer.settle(result);
          end();
        },
        (err: unknown) => {
          answer.fail(err);
          end();
        },
      );
    });
  }
}

/** The caller's side of an asynchronous call: settled once, by the result, an error or the deadline. */
class Answer<R, T> {
  readonly promise: Promise<T>;
  private resolve!: (value: T) => void;
  private reject!: (err: unknown) => void;

  constructor(
    private readonly task: Task<R, T>,
    private readonly answered: AnswerListener,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  settle(result: R): void {
    if (this.task.finished) return;
    this.task.finished = true;
    let value: T;
    try {
      value = this.task.finish(result);
    } catch (err) {
      this.rejectWith(ConnectError.from(err, Code.Internal));
      return;
    }
    this.answered(this.task as Task<unknown, unknown>, undefined);
    this.resolve(value);
  }

  fail(err: unknown): void {
    if (this.task.finished) return;
    this.task.finished = true;
    this.rejectWith(ConnectError.from(err, Code.Internal));
  }

  private rejectWith(error: ConnectError): void {
    this.answered(this.task as Task<unknown, unknown>, error);
    this.reject(error);
  }
}

function isThenable<T>(v: T | PromiseLike<T>): v is PromiseLike<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}
