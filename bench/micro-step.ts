// The core cost of one Step on the server, without any I/O: decode the request,
// dispatch it through StepStream and Session, encode the reply (`npx tsx bench/micro-step.ts`).
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { EchoActionSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { StepRequestSchema, type StepResponse } from "../gen/openenv/v1/environment_service_pb.js";
import { StepStream } from "../src/core/step-stream.js";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { decodeStepRequest, encodeActionRequest, encodeStepResponse } from "../src/protocol/step-codec.js";
import { createEnvironmentRouter } from "../src/server/router.js";

const router = createEnvironmentRouter(EchoEnvironment);
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
stream.feed(
  decodeStepRequest(toBinary(StepRequestSchema, create(StepRequestSchema, { requestId: "r", command: { case: "reset", value: {} } }))),
);
await new Promise((r) => setTimeout(r, 10));
// Unique request ids (a repeated id would be answered from the session's record instead),
// encoded with the client's hand-written codec (about 1 µs of the figure).
const n = 200_000;
const action = anyPack(EchoActionSchema, create(EchoActionSchema, { message: "ping" }));
let next = 0;
const run = (count: number) => {
  for (let i = 0; i < count; i++) stream.feed(decodeStepRequest(encodeActionRequest(`req-${next++}`, "", action, undefined)));
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
