import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { type EchoAction, EchoActionSchema, type EchoObservationSchema, type EchoState } from "../../gen/openenv/envs/echo/v1/echo_pb.js";
import { echoSpec } from "../envs/echo/environment.js";
import { Environment, type EnvironmentSpec, type StepContext, type StepOutcome } from "../server/environment.js";
import type { CloseReason, SessionHolder, SessionTiming, StepRecord } from "./session.js";
import { Session } from "./session.js";

type Obs = typeof EchoObservationSchema;

/** An environment driven by the action's message: `done`, `throw`, `wait:ms`, `hang`, `partial`, or an echo. */
class TestEnvironment extends Environment<typeof EchoActionSchema, Obs> {
  readonly log: string[] = [];
  closed = 0;
  lastSignal: AbortSignal | undefined;

  reset(): StepOutcome<Obs> {
    this.log.push("reset");
    return { observation: { echoedMessage: "ready" } };
  }

  step(action: EchoAction, ctx: StepContext<Obs>): StepOutcome<Obs> | Promise<StepOutcome<Obs>> {
    const [cmd, arg = "0"] = action.message.split(":");
    this.log.push(action.message);
    switch (cmd) {
      case "done":
        return { observation: { echoedMessage: "bye" }, reward: 1, terminated: true };
      case "throw":
        throw new ConnectError("refused", Code.InvalidArgument);
      case "wait":
        return new Promise((resolve) => setTimeout(() => resolve({ observation: { echoedMessage: `waited ${arg}` } }), Number(arg)));
      case "hang":
        // Ignores its deadline and its abort signal.
        this.lastSignal = ctx.signal;
        return new Promise(() => {});
      case "abortable":
        this.lastSignal = ctx.signal;
        return new Promise((_resolve, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
      case "partial":
        ctx.emit({ echoedMessage: "half" }, 0.5);
        return { observation: { echoedMessage: "whole" } };
      default:
        return { observation: { echoedMessage: action.message }, reward: 0.5 };
    }
  }

  get state(): Partial<EchoState> {
    return { episodeId: this.episodeId, stepCount: this.stepCount };
  }

  override close(): void {
    this.closed++;
  }
}

function open(spec: EnvironmentSpec = echoSpec, timing: Partial<SessionTiming> = {}) {
  const env = new TestEnvironment();
  const closed: Session[] = [];
  const session = new Session("s1", env, spec, {
    timing: {
      stepTimeoutMs: timing.stepTimeoutMs ?? 5_000,
      abortGraceMs: timing.abortGraceMs ?? 50,
      resumeGraceMs: timing.resumeGraceMs ?? 0,
    },
    recordSize: 2,
    onClosed: (s) => closed.push(s),
  });
  return { env, session, closed };
}

const act = (message: string) => create(EchoActionSchema, { message });

async function failure(p: unknown): Promise<ConnectError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }
  throw new Error("expected a rejection");
}

describe("Session", () => {
  it("answers a synchronous step with the record itself, not a promise, and counts steps", async () => {
    const { session } = open();
    await session.reset({ episodeId: "ep-1" });
    const record = session.step(act("hi")) as StepRecord;
    expect(record).not.toBeInstanceOf(Promise);
    expect(record).toMatchObject({ reward: 0.5, done: false, stepCount: 1, episodeId: "ep-1" });
    expect(session.stepCount).toBe(1);
    expect(session.started).toBe(true);
  });

  it("refuses a step before a reset and after the episode ended, unless the spec allows it", async () => {
    const { session } = open();
    expect((await failure(session.step(act("hi")))).code).toBe(Code.FailedPrecondition);
    await session.reset({});
    expect(session.step(act("done"))).toMatchObject({ done: true, terminated: true });
    expect((await failure(session.step(act("again")))).rawMessage).toContain("is over");

    const lenient = open({ ...echoSpec, stepAfterDone: "allow" }).session;
    await lenient.reset({});
    lenient.step(act("done"));
    expect(lenient.step(act("again"))).toMatchObject({ done: false });
  });

  it("gives an environment's error to the caller as a rejected promise, typed", async () => {
    const { session } = open();
    await session.reset({});
    expect((await failure(session.step(act("throw")))).code).toBe(Code.InvalidArgument);
  });

  it("runs calls one at a time in arrival order, state reads included", async () => {
    const { env, session } = open();
    await session.reset({});
    const slow = session.step(act("wait:30"));
    const fast = session.step(act("fast"));
    const state = session.state();
    expect(session.busy).toBe(true);
    const results = await Promise.all([slow, fast, state]);
    expect(env.log).toEqual(["reset", "wait:30", "fast"]);
    expect((results[2] as unknown as EchoState).stepCount).toBe(2);
    expect(session.busy).toBe(false);
  });

  it("answers DEADLINE_EXCEEDED at the deadline and aborts the environment's signal", async () => {
    const { env, session } = open();
    await session.reset({});
    const err = await failure(session.step(act("abortable"), { timeoutMs: 20 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(env.lastSignal?.aborted).toBe(true);
    // The environment stopped: the session stays usable.
    expect(session.closed).toBeUndefined();
    expect(await session.step(act("after"))).toMatchObject({ stepCount: 1 });
  });

  it("closes the session when the environment ignores its deadline for the abort grace", async () => {
    const { env, session, closed } = open(echoSpec, { abortGraceMs: 20 });
    await session.reset({});
    await failure(session.step(act("hang"), { timeoutMs: 10 }));
    await new Promise<void>((resolve) => session.onClose(() => resolve()));
    expect(session.closed?.code).toBe(Code.Aborted);
    expect(closed).toEqual([session]);
    expect(env.lastSignal?.aborted).toBe(true);
    expect((await failure(session.step(act("x")))).code).toBe(Code.NotFound);
  });

  it("passes partial observations to the step's listener, with its request id, until the step ends", async () => {
    const { session } = open();
    await session.reset({});
    const seen: string[] = [];
    session.step(act("partial"), {
      requestId: "r7",
      partials: {
        partial: (id, p) => seen.push(`${id}:${(p.observation as unknown as { echoedMessage: string }).echoedMessage}:${p.progress}`),
      },
    });
    expect(seen).toEqual(["r7:half:0.5"]);
  });

  it("closes once: aborts the running call, tells its listeners and holder, closes the environment", async () => {
    const { env, session, closed } = open();
    await session.reset({});
    const running = session.step(act("abortable"));
    const heard: CloseReason[] = [];
    session.onClose((r) => heard.push(r));
    const detached: CloseReason[] = [];
    session.attach({ detached: (r) => detached.push(r) });
    const reason = { code: Code.Unavailable, message: "server shutting down" };
    await Promise.all([session.close(reason), session.close(reason)]);
    expect((await failure(running)).code).toBe(Code.Unavailable);
    expect(heard).toEqual([reason]);
    expect(detached).toEqual([reason]);
    expect(closed).toHaveLength(1);
    expect(env.closed).toBe(1);
    expect(session.closed).toEqual(reason);
  });
});

describe("Session attachment", () => {
  const holder = () => {
    const reasons: CloseReason[] = [];
    const h: SessionHolder & { reasons: CloseReason[] } = { reasons, detached: (r) => reasons.push(r) };
    return h;
  };

  it("hands the session to a new holder and tells the old one", () => {
    const { session } = open();
    const a = holder();
    const b = holder();
    session.attach(a);
    session.attach(b);
    expect(a.reasons.map((r) => r.code)).toEqual([Code.Aborted]);
    expect(session.attached).toBe(true);
    session.release(a); // not the holder any more: no effect
    expect(session.attached).toBe(true);
    session.release(b);
    expect(session.attached).toBe(false);
    expect(session.closed).toBeUndefined();
  });

  it("closes a dropped session after the resume grace unless a holder resumes it", async () => {
    const { session } = open(echoSpec, { resumeGraceMs: 20 });
    const a = holder();
    session.attach(a);
    session.drop(a, Promise.resolve());
    expect(session.attached).toBe(false);
    await new Promise<void>((resolve) => session.onClose(() => resolve()));
    expect(session.closed?.code).toBe(Code.Aborted);

    const resumed = open(echoSpec, { resumeGraceMs: 20 }).session;
    resumed.attach(a);
    resumed.drop(a, Promise.resolve());
    resumed.attach(holder());
    await new Promise((r) => setTimeout(r, 60));
    expect(resumed.closed).toBeUndefined();
  });

  it("without a resume grace, closes a dropped session once its running work settles", async () => {
    const { session } = open(echoSpec, { resumeGraceMs: 0 });
    const a = holder();
    session.attach(a);
    let settle!: () => void;
    session.drop(a, new Promise<void>((r) => (settle = r)));
    await new Promise((r) => setTimeout(r, 10));
    expect(session.closed).toBeUndefined();
    settle();
    await new Promise<void>((resolve) => session.onClose(() => resolve()));
    expect(session.closed?.message).toContain("dropped");
  });

  it("remembers the replies of at least the most recent request ids (recordSize 2), and forgets older ones", () => {
    const { session } = open();
    for (const [i, id] of ["a", "b", "c", "d", "e"].entries()) session.records.remember(id, i);
    expect(["d", "e"].map((id) => session.records.get(id))).toEqual([3, 4]);
    expect(session.records.get("a")).toBeUndefined();
  });
});
