// Property-based fuzzing of the RPC surface: raw HTTP/2 requests with random
// envelopes and protobuf bytes, on every protocol and both server paths.
import * as http2 from "node:http2";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoActionSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { StepRequestSchema, StepResponseSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

const MAX = 64 * 1024;
let fast: EnvironmentServer;
let generic: EnvironmentServer;
let sentinel: EnvClient;
let sentinelSteps = 0;
const counts = { inputs: 0, inBandErrors: 0, streamErrors: 0, ok: 0 };

beforeAll(async () => {
  fast = await serve(EchoEnvironment, { port: 0, maxMessageBytes: MAX, resumeGraceMs: 200 });
  generic = await serve(EchoEnvironment, { port: 0, maxMessageBytes: MAX, fastPath: false, resumeGraceMs: 200 });
  sentinel = await EnvClient.connect({ baseUrl: fast.url, spec: echoSpec });
  await sentinel.reset();
});
afterAll(async () => {
  await sentinel.close();
  await Promise.all([fast.close(), generic.close()]);
  console.log(
    `fuzz-rpc: ${counts.inputs} inputs: ${counts.ok} ok streams, ${counts.inBandErrors} in-band errors, ${counts.streamErrors} stream errors`,
  );
});

type Protocol = "grpc" | "grpc-web" | "connect";
const contentType: Record<Protocol, string> = {
  grpc: "application/grpc",
  "grpc-web": "application/grpc-web+proto",
  connect: "application/connect+proto",
};

function envelope(flags: number, data: Uint8Array, declared = data.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(declared >>> 0, 1);
  return Buffer.concat([head, data]);
}

interface Outcome {
  status: number | undefined;
  code: number | undefined;
  messages: Uint8Array[];
}

/** Sends one raw Step request and collects the HTTP status, the final code and the reply messages. */
async function rawStep(session: http2.ClientHttp2Session, protocol: Protocol, body: Buffer): Promise<Outcome> {
  return await new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/openenv.v1.EnvironmentService/Step",
      "content-type": contentType[protocol],
      te: "trailers",
    });
    const chunks: Buffer[] = [];
    let status: number | undefined;
    let code: number | undefined;
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      if (h["grpc-status"] !== undefined) code = Number(h["grpc-status"]);
    });
    stream.on("trailers", (t) => {
      if (t["grpc-status"] !== undefined) code = Number(t["grpc-status"]);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", reject);
    // The response is complete when the server ends its side; a real client then stops sending too.
    stream.on("end", () => stream.close());
    stream.on("close", () => {
      const all = Buffer.concat(chunks);
      const messages: Uint8Array[] = [];
      let pos = 0;
      while (pos + 5 <= all.length) {
        const flags = all[pos] as number;
        const len = all.readUInt32BE(pos + 1);
        const data = all.subarray(pos + 5, pos + 5 + len);
        pos += 5 + len;
        if (protocol === "grpc-web" && flags & 0x80) code = Number(trailerParse(data).get("grpc-status"));
        else if (protocol === "connect" && flags & 0x02) {
          const end = JSON.parse(data.toString()) as { error?: { code: string } };
          code = end.error === undefined ? 0 : 1000; // a Connect error is a string code; 1000 marks "an error"
        } else messages.push(data);
      }
      resolve({ status, code, messages });
    });
    stream.end(body);
    setTimeout(() => stream.close(), 10_000).unref();
  });
}

const validAction = (message: string) =>
  toBinary(
    StepRequestSchema,
    create(StepRequestSchema, {
      requestId: "x",
      command: {
        case: "action",
        value: {
          typeUrl: "type.googleapis.com/openenv.envs.echo.v1.EchoAction",
          value: toBinary(EchoActionSchema, create(EchoActionSchema, { message })),
        },
      },
    }),
  );
const resetReq = toBinary(StepRequestSchema, create(StepRequestSchema, { requestId: "r", command: { case: "reset", value: {} } }));

/** Bodies: random bytes, envelopes lying about their length, random protobuf, wrong type URLs, random action bytes, oversize. */
const bodies = (oversize: boolean) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    fc
      .tuple(fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: 0xffffffff }), fc.nat({ max: 255 }))
      .map(([d, n, f]) => envelope(f, d, n)),
    fc.uint8Array({ maxLength: 200 }).map((d) => Buffer.concat([envelope(0, resetReq), envelope(0, d)])),
    fc
      .tuple(fc.string({ maxLength: 60 }), fc.uint8Array({ maxLength: 50 }))
      .map(([url, value]) =>
        Buffer.concat([
          envelope(0, resetReq),
          envelope(
            0,
            toBinary(
              StepRequestSchema,
              create(StepRequestSchema, { requestId: "t", command: { case: "action", value: { typeUrl: url, value } } }),
            ),
          ),
        ]),
      ),
    fc.uint8Array({ maxLength: 80 }).map((value) =>
      Buffer.concat([
        envelope(0, resetReq),
        envelope(
          0,
          toBinary(
            StepRequestSchema,
            create(StepRequestSchema, {
              requestId: "v",
              command: { case: "action", value: { typeUrl: "type.googleapis.com/openenv.envs.echo.v1.EchoAction", value } },
            }),
          ),
        ),
      ]),
    ),
    ...(oversize ? [fc.constant(Buffer.concat([envelope(0, resetReq), envelope(0, validAction("x".repeat(MAX)))]))] : []),
  );

// connect-node leaves a client stream hanging after refusing an oversized message on a
// bidi stream (the client never sees the end of the response); the fast path, which
// serves every binary Step stream, is fuzzed with oversized messages too.
describe.each([
  ["fast path", () => fast, true],
  ["connect-node path", () => generic, false],
] as const)("Step fuzzing (%s)", (_label, server, oversize) => {
  const body = bodies(oversize);
  it.each(["grpc", "grpc-web", "connect"] as const)("answers every input over %s with a typed status, and stays up", async (protocol) => {
    const session = http2.connect(server().url);
    const before = server().router.sessions.stats();
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        counts.inputs++;
        const out = await rawStep(session, protocol, b);
        expect(out.status).toBe(200);
        expect(out.code).toBeDefined();
        expect(out.code === 1000 || (out.code as number) <= 16).toBe(true);
        if (out.code !== 0) counts.streamErrors++;
        for (const m of out.messages) {
          const res = fromBinary(StepResponseSchema, m);
          if (res.kind.case === "error") {
            counts.inBandErrors++;
            expect(res.kind.value.code).toBeGreaterThan(0);
            expect(res.kind.value.message.length).toBeGreaterThan(0);
          }
        }
        if (out.code === 0) counts.ok++;
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 150 },
    );
    session.close();
    // Other sessions are unaffected, and every stream's session was released.
    sentinelSteps++;
    expect((await sentinel.step({ message: "alive" })).stepCount).toBe(sentinelSteps);
    await expect.poll(() => server().router.sessions.active, { timeout: 10_000 }).toBeLessThanOrEqual(before.active);
  });
});
