import * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepRequestSchema, StepResponseSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import type { EnvironmentServer } from "../src/server/serve.js";
import { waitFor } from "./fixtures/wait-for.js";
import { targets } from "./targets.js";

// A Step stream that breaks (the connection drops, or the client resets the
// stream: grpcio's call.cancel() sends a bare RST_STREAM) must leave its session
// open for the resume grace; only a half-close ends it. Node emits 'end' before
// 'aborted' in both cases, which once made a break look like a half-close (found
// by the Python SDK's resume tests, which cover the bare RST_STREAM; Node's own
// stream.close() half-closes before it resets, so it cannot send one).

/** A raw gRPC Step stream with binary (fast path) or JSON (connect-node path) messages. */
function openStep(session: http2.ClientHttp2Session, codec: "proto" | "json") {
  const stream = session.request({
    ":method": "POST",
    ":path": "/openenv.v1.EnvironmentService/Step",
    "content-type": `application/grpc+${codec}`,
    te: "trailers",
  });
  const replies: Record<string, unknown>[] = [];
  let buffered = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 5 && buffered.length >= 5 + buffered.readUInt32BE(1)) {
      const body = buffered.subarray(5, 5 + buffered.readUInt32BE(1));
      buffered = buffered.subarray(5 + body.length);
      const reply =
        codec === "json"
          ? (JSON.parse(body.toString()) as Record<string, unknown>)
          : (fromBinary(StepResponseSchema, body) as unknown as Record<string, unknown>);
      replies.push(reply);
    }
  });
  stream.on("error", () => {});
  const send = (json: Record<string, unknown>): void => {
    const body =
      codec === "json"
        ? Buffer.from(JSON.stringify(json))
        : Buffer.from(
            toBinary(
              StepRequestSchema,
              create(StepRequestSchema, {
                requestId: json.requestId as string,
                sessionId: (json.sessionId as string | undefined) ?? "",
                command: json.reset !== undefined ? { case: "reset", value: {} } : { case: "state", value: {} },
              }),
            ),
          );
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    stream.write(frame);
  };
  return { stream, replies, send };
}

// Runs against our server and against `openenv gateway` in front of it (test/targets.ts).
describe.each(targets)("against the $name", (t) => {
  let server: EnvironmentServer;

  beforeAll(async () => {
    server = await t.serve(EchoEnvironment, { port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  describe.each(["proto", "json"] as const)("Step stream over gRPC+%s", (codec) => {
    it("keeps the session for a resume when the client's connection drops", async () => {
      const dropped = http2.connect(server.url);
      const h2 = http2.connect(server.url);
      try {
        const first = openStep(dropped, codec);
        first.send({ requestId: "r1", reset: {} });
        await waitFor(() => first.replies.length === 1);
        const sessionId = first.replies[0]?.sessionId as string;
        const session = server.router.sessions.find(sessionId);
        expect(session).toBeDefined();
        dropped.destroy();
        // The server saw it once the session lost its stream (resume timer) or was closed.
        await waitFor(() => session?.attached === false || session?.closed !== undefined);
        expect(session?.closed?.message).toBeUndefined();
        const second = openStep(h2, codec);
        second.send({ requestId: "r2", sessionId, state: {} });
        await waitFor(() => second.replies.length === 1);
        expect(second.replies[0]?.sessionId).toBe(sessionId);
        expect(JSON.stringify(second.replies[0])).not.toContain("not found");
        second.stream.end();
        await waitFor(() => session?.closed !== undefined);
      } finally {
        dropped.destroy();
        h2.close();
      }
    });

    it("ends the session when the client half-closes the stream", async () => {
      const h2 = http2.connect(server.url);
      try {
        const step = openStep(h2, codec);
        step.send({ requestId: "r1", reset: {} });
        await waitFor(() => step.replies.length === 1);
        const session = server.router.sessions.find(step.replies[0]?.sessionId as string);
        const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => step.stream.once("trailers", resolve));
        step.stream.end();
        expect((await trailers)["grpc-status"]).toBe("0");
        expect(session?.closed?.message).toBe("the client closed its stream");
      } finally {
        h2.close();
      }
    });
  });

  describe("Step stream cleanup", () => {
    it("lets go of the server's shutdown signal when a stream ends (no listener leak)", async () => {
      const warnings: string[] = [];
      const onWarning = (w: Error): void => {
        warnings.push(`${w.name}: ${w.message}`);
      };
      process.on("warning", onWarning);
      const h2 = http2.connect(server.url);
      try {
        for (let i = 0; i < 25; i++) {
          const step = openStep(h2, "proto");
          step.send({ requestId: "r1", reset: {} });
          await waitFor(() => step.replies.length === 1);
          const ended = new Promise((resolve) => step.stream.once("close", resolve));
          step.stream.end();
          await ended;
        }
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings.filter((w) => w.includes("MaxListenersExceededWarning"))).toEqual([]);
      } finally {
        process.off("warning", onWarning);
        h2.close();
      }
    });
  });
});
