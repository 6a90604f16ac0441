import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { EchoActionSchema } from "../../gen/openenv/envs/echo/v1/echo_pb.js";
import { type StepRequest, StepResponseSchema } from "../../gen/openenv/v1/environment_service_pb.js";
import { toStepError } from "../protocol/errors.js";
import { StepChannel, type StepStreamEvents } from "./step-channel.js";

/** A Step stream in memory: records what the channel sends, and lets the test reply or end it. */
function fakeStream() {
  const sent: StepRequest[] = [];
  const calls: string[] = [];
  let events!: StepStreamEvents;
  const channel = new StepChannel((e) => {
    events = e;
    return {
      send: (req) => void sent.push(req),
      end: () => {
        calls.push("end");
        events.closed(new ConnectError("the server ended the step stream", Code.Unavailable));
      },
      cancel: (reason) => {
        calls.push(`cancel:${reason.code}`);
        events.closed(reason);
      },
    };
  });
  const reply = (init: Parameters<typeof create<typeof StepResponseSchema>>[1]) => events.reply(create(StepResponseSchema, init));
  return { channel, sent, calls, reply, events: () => events };
}

const action = anyPack(EchoActionSchema, create(EchoActionSchema, { message: "hi" }));

describe("StepChannel", () => {
  it("gives every request an id and settles it with the reply carrying that id, in any order", async () => {
    const { channel, sent, reply } = fakeStream();
    const a = channel.request({ command: { case: "action", value: action } });
    const b = channel.request({ command: { case: "state", value: {} } });
    expect(sent.map((r) => r.command.case)).toEqual(["action", "state"]);
    const [ida, idb] = sent.map((r) => r.requestId);
    expect(ida).not.toBe(idb);
    reply({ requestId: idb, sessionId: "s1", kind: { case: "state", value: {} } });
    reply({ requestId: ida, kind: { case: "result", value: { stepCount: 1 } } });
    expect((await a).case).toBe("result");
    expect((await b).case).toBe("state");
    expect(channel.sessionId).toBe("s1");
  });

  it("sends an action request as a complete message without copying the action, with the caller's id", () => {
    const { channel, sent } = fakeStream();
    void channel.request({ sessionId: "s", command: { case: "action", value: action } }, undefined, "mine");
    expect(sent[0]?.$typeName).toBe("openenv.v1.StepRequest");
    expect(sent[0]?.requestId).toBe("mine");
    expect(sent[0]?.sessionId).toBe("s");
    expect(sent[0]?.command.value).toBe(action);
  });

  it("passes partial observations to the request's callback before its result", async () => {
    const { channel, sent, reply } = fakeStream();
    const partials: (number | undefined)[] = [];
    const done = channel.request({ command: { case: "action", value: action } }, (p) => partials.push(p.progress));
    const id = sent[0]?.requestId;
    reply({ requestId: id, kind: { case: "partial", value: { progress: 0.5 } } });
    reply({ requestId: id, kind: { case: "result", value: {} } });
    await done;
    expect(partials).toEqual([0.5]);
  });

  it("rejects a request with the server's in-band error, and the stream stays usable", async () => {
    const { channel, sent, reply } = fakeStream();
    const bad = channel.request({ command: { case: "action", value: action } });
    reply({
      requestId: sent[0]?.requestId,
      kind: { case: "error", value: toStepError(new ConnectError("bad field", Code.InvalidArgument)) },
    });
    await expect(bad).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: "bad field" });
    expect(channel.broken).toBeUndefined();
    const ok = channel.request({ command: { case: "state", value: {} } });
    reply({ requestId: sent[1]?.requestId, kind: { case: "state", value: {} } });
    await expect(ok).resolves.toMatchObject({ case: "state" });
  });

  it("ignores replies to requests it does not wait for", () => {
    const { channel, reply } = fakeStream();
    expect(() => reply({ requestId: "unknown", kind: { case: "result", value: {} } })).not.toThrow();
    expect(channel.broken).toBeUndefined();
  });

  it("rejects every pending request, and every later one, with the reason the stream ended", async () => {
    const { channel, events } = fakeStream();
    const a = channel.request({ command: { case: "state", value: {} } });
    const reason = new ConnectError("stream reset", Code.Unavailable);
    events().closed(reason);
    await expect(a).rejects.toBe(reason);
    expect(channel.broken).toBe(reason);
    await expect(channel.request({ command: { case: "state", value: {} } })).rejects.toBe(reason);
  });

  it("close() half-closes and waits for the end; cancel() drops the stream with CANCELED", async () => {
    const closing = fakeStream();
    await closing.channel.close();
    expect(closing.calls).toEqual(["end"]);

    const cancelling = fakeStream();
    const pending = cancelling.channel.request({ command: { case: "state", value: {} } });
    await cancelling.channel.cancel();
    expect(cancelling.calls).toEqual([`cancel:${Code.Canceled}`]);
    await expect(pending).rejects.toMatchObject({ code: Code.Canceled });
  });

  it("copes with a stream that ends while it is being opened", async () => {
    const channel = new StepChannel((events) => {
      events.closed(new ConnectError("refused", Code.PermissionDenied));
      return { send() {}, end() {}, cancel() {} };
    });
    await expect(channel.request({ command: { case: "state", value: {} } })).rejects.toMatchObject({ code: Code.PermissionDenied });
    await channel.close();
  });
});
