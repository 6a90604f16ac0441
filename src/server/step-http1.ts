import type * as http from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import type { StepResponse } from "../../gen/openenv/v1/environment_service_pb.js";
import { abortOn, keepSessionHeader, type ReplySink, wantsKeepSession } from "../core/step-input.js";
import { encodeStepResponse } from "../protocol/step-codec.js";
import { EnvelopeReader, endOfStream, STEP_CONTENT_TYPES } from "../protocol/step-wire.js";
import { endOfStepRequests, feedStepRequests } from "./fast-step.js";
import type { EnvironmentRouter } from "./router.js";

/**
 * A Step stream over HTTP/1.1, for browsers. connect-node refuses bidi methods on
 * HTTP/1.1 (505), and a browser's fetch cannot stream a request body anyway; but it
 * can send a whole body (one or more StepRequests) and read the response as it streams.
 * So this serves the Step method half-duplex: requests are fed as they arrive, replies
 * (partial observations first, then the result) are written as they are produced, with
 * the same framing and end-of-stream status as the HTTP/2 path. The session is the
 * core's, opened through the router like every other transport's (credentials were
 * checked on the headers before this runs).
 *
 * With the `openenv-keep-session: true` header the session outlives the call, so a
 * page can step one session with one short call per action.
 */
export function serveStepHttp1(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  protocol: "connect" | "grpc-web",
  router: EnvironmentRouter,
  shutdown: AbortSignal,
): void {
  let finished = false;
  const finish = (err: ConnectError | undefined): void => {
    if (finished) return;
    finished = true;
    if (res.destroyed) return;
    const end = endOfStream(protocol, err);
    res.end("body" in end ? end.body : undefined);
  };
  const sink: ReplySink = {
    push(reply: StepResponse) {
      if (!finished && !res.destroyed) res.write(encodeStepResponse(reply, true));
    },
    end: () => finish(undefined),
    fail: (err) => finish(err),
  };
  res.writeHead(200, { "content-type": STEP_CONTENT_TYPES[protocol] });
  const core = router.openStepStream(sink, {
    keepSession: wantsKeepSession(req.headers[keepSessionHeader]),
    requestHeaders: req.headers,
  });
  const unlisten = abortOn(shutdown, core);
  const reader = new EnvelopeReader(router.maxMessageBytes);
  let inputEnded = false;
  req.on("data", (chunk: Buffer) => {
    if (inputEnded) return;
    const cause = feedStepRequests(reader, chunk, core);
    if (cause !== undefined) {
      inputEnded = true;
      finish(cause);
    }
  });
  req.on("end", () => {
    if (inputEnded) return;
    inputEnded = true;
    const cause = endOfStepRequests(reader, core);
    if (cause !== undefined) finish(cause);
    else core.finish();
  });
  // On HTTP/1.1 the response's 'close' before it finished is the client going away.
  res.on("close", () => {
    unlisten();
    if (!finished) {
      finished = true;
      core.abort(new ConnectError("the client cancelled the stream", Code.Canceled));
    }
  });
  req.on("error", () => {});
}
