import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterEach, describe, expect, it } from "vitest";
import { EchoActionSchema } from "../../gen/openenv/envs/echo/v1/echo_pb.js";
import { StepRequestSchema, type StepResponse } from "../../gen/openenv/v1/environment_service_pb.js";
import { EchoEnvironment, echoSpec } from "../envs/echo/environment.js";
import { SessionManager } from "./session-manager.js";
import type { ReplySink } from "./step-input.js";
import { StepStream } from "./step-stream.js";

/** A reply sink in memory. */
function sink() {
  const replies: StepResponse[] = [];
  const ends: (ConnectError | "end")[] = [];
  const out: ReplySink & { replies: StepResponse[]; ends: typeof ends } = {
    replies,
    ends,
    push: (res) => void replies.push(res),
    end: () => void ends.push("end"),
    fail: (err) => void ends.push(err),
  };
  return out;
}

const managers: SessionManager[] = [];
function manager(resumeGraceMs = 0): SessionManager {
  const m = new SessionManager({ spec: echoSpec, create: () => new EchoEnvironment() }, { resumeGraceMs, idleTimeoutMs: 0 });
  managers.push(m);
  return m;
}
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.closeAll({ code: Code.Unavailable, message: "test over" })));
});

const req = (init: MessageInitShape<typeof StepRequestSchema>) => create(StepRequestSchema, init);
const action = (message: string) => ({ case: "action" as const, value: anyPack(EchoActionSchema, create(EchoActionSchema, { message })) });
const reset = { case: "reset" as const, value: {} };
const until = async (cond: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(cond()).toBe(true);
};

describe("StepStream", () => {
  it("opens a session on reset, then answers each action synchronously with its request id", async () => {
    const sessions = manager();
    const out = sink();
    const stream = new StepStream(sessions, echoSpec, out);
    stream.feed(req({ requestId: "r1", command: reset }));
    // Requests that arrive while the session opens wait their turn.
    stream.feed(req({ requestId: "r2", command: action("hi") }));
    await until(() => out.replies.length === 2);
    const before = out.replies.length;
    stream.feed(req({ requestId: "r3", command: action("sync") }));
    expect(out.replies.length).toBe(before + 1);
    // Replies are matched by request id: a reset's reply (a promise) may come after a synchronous step's.
    const byId = new Map(out.replies.map((r) => [r.requestId, r]));
    expect([...byId.keys()].sort()).toEqual(["r1", "r2", "r3"]);
    const stepCount = (id: string) => {
      const kind = byId.get(id)?.kind;
      return kind?.case === "result" ? kind.value.stepCount : undefined;
    };
    expect([stepCount("r1"), stepCount("r2"), stepCount("r3")]).toEqual([0, 1, 2]);
    expect(new Set(out.replies.map((r) => r.sessionId)).size).toBe(1);
    expect(sessions.active).toBe(1);
  });

  it("answers a repeated request id from the record, marked replayed, without stepping again", async () => {
    const out = sink();
    const stream = new StepStream(manager(), echoSpec, out);
    stream.feed(req({ requestId: "r1", command: reset }));
    await until(() => out.replies.length === 1);
    stream.feed(req({ requestId: "a", command: action("x") }));
    stream.feed(req({ requestId: "a", command: action("x") }));
    const [first, again] = out.replies.slice(1);
    expect(again?.replayed).toBe(true);
    expect(again?.kind).toEqual(first?.kind);
    const result = first?.kind.case === "result" ? first.kind.value : undefined;
    expect(result?.stepCount).toBe(1);
  });

  it("answers requests it cannot serve in-band, and the stream goes on", async () => {
    const out = sink();
    const stream = new StepStream(manager(), echoSpec, out);
    stream.feed(req({ requestId: "a", command: action("x") }));
    stream.feed(req({ requestId: "b", command: { case: "state", value: {} } }));
    stream.feed(req({ requestId: "c" }));
    stream.feed(req({ requestId: "d", sessionId: "nope" }));
    const errors = out.replies.map((r) => (r.kind.case === "error" ? [r.requestId, r.kind.value.code] : r.kind.case));
    expect(errors).toEqual([
      ["a", Code.FailedPrecondition],
      ["b", Code.FailedPrecondition],
      ["c", Code.InvalidArgument],
      ["d", Code.NotFound],
    ]);
    expect(out.ends).toEqual([]);
  });

  it("lets a second stream take the session over by id: the first one ends with ABORTED", async () => {
    const sessions = manager();
    const a = sink();
    const first = new StepStream(sessions, echoSpec, a);
    first.feed(req({ requestId: "r1", command: reset }));
    await until(() => a.replies.length === 1);
    const id = a.replies[0]?.sessionId as string;
    const b = sink();
    const second = new StepStream(sessions, echoSpec, b);
    second.feed(req({ requestId: "s", sessionId: id }));
    await until(() => b.replies.length === 1);
    expect(b.replies[0]?.kind.case).toBe("state");
    expect((a.ends[0] as ConnectError).code).toBe(Code.Aborted);
    second.feed(req({ requestId: "t", command: action("mine") }));
    expect(b.replies[1]?.kind.case).toBe("result");
  });

  it("closes the session on half-close, and ends the stream after the replies", async () => {
    const sessions = manager();
    const out = sink();
    const stream = new StepStream(sessions, echoSpec, out);
    stream.feed(req({ requestId: "r1", command: reset }));
    stream.finish();
    await until(() => out.ends.length === 1);
    expect(out.replies.map((r) => r.requestId)).toEqual(["r1"]);
    expect(out.ends).toEqual(["end"]);
    expect(sessions.active).toBe(0);
  });

  it("keeps the session after half-close when asked to", async () => {
    const sessions = manager();
    const out = sink();
    const stream = new StepStream(sessions, echoSpec, out, { keepSession: true });
    stream.feed(req({ requestId: "r1", command: reset }));
    stream.finish();
    await until(() => out.ends.length === 1);
    const session = sessions.find(out.replies[0]?.sessionId as string);
    expect(session?.closed).toBeUndefined();
    expect(session?.attached).toBe(false);
  });

  it("keeps a dropped stream's session for a resume, and closes it after the grace", async () => {
    const sessions = manager(30);
    const out = sink();
    const stream = new StepStream(sessions, echoSpec, out);
    stream.feed(req({ requestId: "r1", command: reset }));
    await until(() => out.replies.length === 1);
    const session = sessions.find(out.replies[0]?.sessionId as string);
    stream.abort(new ConnectError("the client cancelled the stream", Code.Canceled));
    expect((out.ends[0] as ConnectError).code).toBe(Code.Canceled);
    expect(session?.closed).toBeUndefined();
    expect(session?.attached).toBe(false);
    await until(() => session?.closed !== undefined);
    expect(session?.closed?.code).toBe(Code.Aborted);
  });

  it("on shutdown (UNAVAILABLE) delivers running steps before failing the stream", async () => {
    const out = sink();
    const stream = new StepStream(manager(), echoSpec, out);
    stream.feed(req({ requestId: "r1", command: reset }));
    await until(() => out.replies.length === 1);
    stream.feed(req({ requestId: "r2", command: reset }));
    stream.abort(new ConnectError("server shutting down", Code.Unavailable));
    expect(out.ends).toEqual([]);
    await until(() => out.ends.length === 1);
    expect(out.replies.map((r) => r.requestId)).toEqual(["r1", "r2"]);
    expect((out.ends[0] as ConnectError).code).toBe(Code.Unavailable);
  });
});
