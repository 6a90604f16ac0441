// The core cost of one Step on the server, without any I/O: decode the request,
// dispatch it through StepStream and Session, encode the reply (`npx tsx bench/micro-step.ts`;
// `--metrics` adds the Prometheus metrics serve() feeds by default).
// `--codecs` also times each Step message's hand encoder against protobuf-es, which
// is what decides whether a hand encoder still earns its place (src/protocol/step-codec.ts).
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { EchoActionSchema, EchoObservationSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { type StepRequest, StepRequestSchema, type StepResponse, StepResponseSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { StepStream } from "../src/core/step-stream.js";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { encodeStepRequest, encodeStepResponse } from "../src/protocol/step-codec.js";
import { ServerMetrics } from "../src/server/metrics.js";
import { createEnvironmentRouter } from "../src/server/router.js";

// `--metrics`: with the server's Prometheus metrics fed by the session core (serve()'s default).
const withMetrics = process.argv.includes("--metrics");
const observer = withMetrics ? new ServerMetrics({ environment: "echo" }, { active: () => 0, max: () => 0 }) : undefined;
const router = createEnvironmentRouter(EchoEnvironment, { observer });
let bytesOut = 0;
let replies = 0;
const sink = {
  push(res: StepResponse) {
    bytesOut += encodeStepResponse(res, true).length;
    replies++;
  },
  end() {},
  fail() {},
};
const stream = new StepStream(router.sessions, router.spec, sink);
stream.feed(create(StepRequestSchema, { requestId: "r", command: { case: "reset", value: {} } }));
await new Promise((r) => setTimeout(r, 10));
// Unique request ids (a repeated id would be answered from the session's record instead),
// encoded with the client's encoder (about 1 µs of the figure).
const n = 200_000;
const action = anyPack(EchoActionSchema, create(EchoActionSchema, { message: "ping" }));
let next = 0;
const request = (id: string): StepRequest => ({
  $typeName: "openenv.v1.StepRequest",
  requestId: id,
  sessionId: "",
  command: { case: "action", value: action },
  timeout: undefined,
});
const run = (count: number) => {
  for (let i = 0; i < count; i++) stream.feed(fromBinary(StepRequestSchema, encodeStepRequest(request(`req-${next++}`))));
};
run(50_000);
const before = replies;
const c0 = process.cpuUsage();
const t0 = performance.now();
run(n);
const dt = performance.now() - t0;
const c = process.cpuUsage(c0);
if (replies - before !== n) throw new Error(`expected ${n} synchronous replies, got ${replies - before}`);
console.log(
  `${((dt * 1000) / n).toFixed(2)} µs/step wall, ${((c.user + c.system) / n).toFixed(2)} µs/step CPU, ${Math.round(bytesOut / replies)} B/reply`,
);
await router.close();

if (process.argv.includes("--codecs")) {
  const response = create(StepResponseSchema, {
    requestId: "k2j4h-1a",
    sessionId: "0b6c2f5e-4f61-4c4e-9a53-0d7b9b3c2a11",
    kind: {
      case: "result",
      value: {
        observation: anyPack(EchoObservationSchema, create(EchoObservationSchema, { echoedMessage: "ping", messageLength: 4 })),
        reward: 0.4,
        metadata: { turn: 3, note: "ok" },
        stepCount: 7,
        episodeId: "0b6c2f5e-4f61-4c4e-9a53-0d7b9b3c2a11",
      },
    },
  });
  const req = request("k2j4h-1b");
  const responseBytes = toBinary(StepResponseSchema, response);
  const requestBytes = toBinary(StepRequestSchema, req);
  const time = (f: () => unknown): number => {
    const count = 200_000;
    for (let i = 0; i < 50_000; i++) f();
    const t = performance.now();
    for (let i = 0; i < count; i++) f();
    return ((performance.now() - t) * 1000) / count;
  };
  const rows: [string, () => unknown, () => unknown][] = [
    [
      "encode StepResponse (result), enveloped",
      () => encodeStepResponse(response, true),
      () => encodeEnvelope(0, toBinary(StepResponseSchema, response)),
    ],
    [
      "encode StepRequest (action), enveloped",
      () => encodeStepRequest(req, true),
      () => encodeEnvelope(0, toBinary(StepRequestSchema, req)),
    ],
    ["decode StepResponse (result)", () => undefined, () => fromBinary(StepResponseSchema, responseBytes)],
    ["decode StepRequest (action)", () => undefined, () => fromBinary(StepRequestSchema, requestBytes)],
  ];
  console.log("codec, µs per message (best of 3)          hand   protobuf-es");
  for (const [name, hand, lib] of rows) {
    const best = (f: () => unknown) => Math.min(time(f), time(f), time(f));
    const h = name.startsWith("decode") ? "   -" : best(hand).toFixed(2);
    console.log(`${name.padEnd(42)} ${h.padStart(6)} ${best(lib).toFixed(2).padStart(8)}`);
  }
}
