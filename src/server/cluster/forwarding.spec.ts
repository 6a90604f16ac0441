import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  type EnvironmentService,
  ResetResponseSchema,
  type StepRequest,
  StepRequestSchema,
  type StepResponse,
} from "../../../gen/openenv/v1/environment_service_pb.js";
import type { RemoteSessions, SessionPlacement, StepRelay } from "../../core/placement.js";
import { SessionManager } from "../../core/session-manager.js";
import type { ReplySink } from "../../core/step-input.js";
import { StepStream } from "../../core/step-stream.js";
import { EchoEnvironment, echoSpec } from "../../envs/echo/environment.js";
import { ForwardingStepStream, forwardingJsonRpc, forwardingService } from "./forwarding.js";

/** A placement where ids starting `w2-` belong to another worker, `w3-` to a worker that cannot be reached. */
function placement() {
  const relayed: string[] = [];
  const calls: string[] = [];
  const relay: StepRelay = {
    send: (req) => void relayed.push(req.requestId),
    end: () => void relayed.push("end"),
    abort: (cause) => void relayed.push(`abort:${cause.code}`),
    drain: (cause) => void relayed.push(`drain:${cause.code}`),
  };
  const remote: RemoteSessions = {
    reset: async (req) => {
      calls.push(`reset ${req.sessionId}`);
      return create(ResetResponseSchema, { sessionId: req.sessionId });
    },
    state: async () => Promise.reject(new ConnectError("unused")),
    closeSession: async (req) => {
      calls.push(`close ${req.sessionId}`);
      return { $typeName: "openenv.v1.CloseSessionResponse", closed: true };
    },
    step: (_out, _headers, id) => (id.startsWith("w3-") ? new ConnectError("lost the connection to worker 3", Code.Unavailable) : relay),
    jsonRpc: async (request) => ({ jsonrpc: "2.0", id: request.id ?? null, result: { forwarded: true } }),
  };
  const p: SessionPlacement = {
    idPrefix: "w1-",
    acquireSlot: () => undefined,
    releaseSlot: () => {},
    remote: (id) => (id.startsWith("w2-") || id.startsWith("w3-") ? remote : undefined),
    activeSessions: async () => 42,
  };
  return { placement: p, relayed, calls };
}

function sink(): ReplySink & { replies: StepResponse[] } {
  const replies: StepResponse[] = [];
  return { replies, push: (r) => void replies.push(r), end: () => {}, fail: () => {} };
}

const req = (init: MessageInitShape<typeof StepRequestSchema>): StepRequest => create(StepRequestSchema, init);

describe("ForwardingStepStream", () => {
  it("relays every request from the first one naming another worker's session", () => {
    const { placement: p, relayed } = placement();
    const sessions = new SessionManager({ spec: echoSpec, create: () => new EchoEnvironment() }, { idleTimeoutMs: 0 });
    const out = sink();
    const stream = new ForwardingStepStream(new StepStream(sessions, echoSpec, out), p, out, undefined);
    stream.feed(req({ requestId: "a", sessionId: "w2-s" }));
    stream.feed(req({ requestId: "b", command: { case: "state", value: {} } }));
    stream.finish();
    expect(relayed).toEqual(["a", "b", "end"]);
    expect(out.replies).toEqual([]);
    expect(sessions.active).toBe(0);
  });

  it("answers in-band when the owner cannot be reached, and serves this worker's sessions itself", async () => {
    const { placement: p, relayed } = placement();
    const sessions = new SessionManager({ spec: echoSpec, create: () => new EchoEnvironment() }, { idleTimeoutMs: 0 });
    const out = sink();
    const stream = new ForwardingStepStream(new StepStream(sessions, echoSpec, out), p, out, undefined);
    stream.feed(req({ requestId: "lost", command: { case: "reset", value: { sessionId: "w3-s" } } }));
    expect(out.replies[0]?.kind).toMatchObject({ case: "error", value: { code: Code.Unavailable } });
    stream.feed(req({ requestId: "mine", command: { case: "reset", value: {} } }));
    await new Promise((r) => setTimeout(r, 20));
    expect(out.replies[1]?.kind.case).toBe("result");
    // Bound to its own session now: another worker's id is no longer a reason to relay.
    stream.feed(req({ requestId: "other", sessionId: "w2-s" }));
    expect(relayed).toEqual([]);
    expect(out.replies[2]?.kind).toMatchObject({ case: "error", value: { code: Code.InvalidArgument } });
    stream.abort(new ConnectError("server shutting down", Code.Unavailable));
    await sessions.closeAll({ code: Code.Unavailable, message: "test over" });
  });

  it("drains the relay on shutdown and cancels it when the client goes away", () => {
    const { placement: p, relayed } = placement();
    const sessions = new SessionManager({ spec: echoSpec, create: () => new EchoEnvironment() }, { idleTimeoutMs: 0 });
    const open = () => {
      const out = sink();
      const stream = new ForwardingStepStream(new StepStream(sessions, echoSpec, out), p, out, undefined);
      stream.feed(req({ requestId: "x", sessionId: "w2-s" }));
      return stream;
    };
    open().abort(new ConnectError("server shutting down", Code.Unavailable));
    open().abort(new ConnectError("the client cancelled the stream", Code.Canceled));
    expect(relayed).toEqual(["x", `drain:${Code.Unavailable}`, "x", `abort:${Code.Canceled}`]);
  });
});

describe("forwardingService and forwardingJsonRpc", () => {
  const ctx = { values: createContextValues(), signal: new AbortController().signal } as unknown as HandlerContext;

  it("send the unary calls for another worker's session to it, and count every worker's sessions", async () => {
    const { placement: p, calls } = placement();
    const local = {
      reset: async () => Promise.reject(new Error("local reset")),
      closeSession: async () => ({ closed: false }),
      describe: async () => ({ limits: { activeSessions: 1 } }),
    } as unknown as ServiceImpl<typeof EnvironmentService>;
    const service = forwardingService(local, p);
    await service.reset({ $typeName: "openenv.v1.ResetRequest", sessionId: "w2-s", episodeId: "" } as never, ctx);
    await expect(service.reset({ sessionId: "" } as never, ctx)).rejects.toThrow("local reset");
    expect(await service.closeSession({ sessionId: "w1-mine" } as never, ctx)).toEqual({ closed: false });
    await service.closeSession({ sessionId: "w2-s" } as never, ctx);
    expect(calls).toEqual(["reset w2-s", "close w2-s"]);
    expect(((await service.describe({} as never, ctx)) as { limits: { activeSessions: number } }).limits.activeSessions).toBe(42);
  });

  it("answers JSON-RPC for another worker's session from the owner", async () => {
    const { placement: p } = placement();
    const handler = forwardingJsonRpc(
      async () => ({ local: true }),
      p,
      (id) => id.startsWith("w1-"),
    );
    expect(await handler({ jsonrpc: "2.0", id: 1, method: "x", params: { session_id: "w2-s" } }, {})).toMatchObject({
      result: { forwarded: true },
    });
    expect(await handler({ jsonrpc: "2.0", id: 2, method: "x", params: { session_id: "w1-s" } }, {})).toEqual({ local: true });
    expect(await handler({ jsonrpc: "2.0", id: 3, method: "x" }, {})).toEqual({ local: true });
  });
});
