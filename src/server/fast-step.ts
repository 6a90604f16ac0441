import type * as http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type StepRequest, StepRequestSchema, type StepResponse } from "../../gen/openenv/v1/environment_service_pb.js";
import { abortOn, keepSessionHeader, type ReplySink, type StepInput, wantsKeepSession } from "../core/step-input.js";
import { encodeStepResponse } from "../protocol/step-codec.js";
import { EnvelopeReader, endOfStream, STEP_CONTENT_TYPES, type StepWireProtocol, stepProtocolOf } from "../protocol/step-wire.js";
import type { EnvironmentRouter } from "./router.js";

export { STEP_PATH, type StepWireProtocol } from "../protocol/step-wire.js";

/** Which protocol a Step request speaks, if the fast path can serve it (see {@link stepProtocolOf}). */
export function fastStepProtocol(headers: http2.IncomingHttpHeaders): StepWireProtocol | undefined {
  return stepProtocolOf((name) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  });
}

/**
 * Serves a Step stream straight on an HTTP/2 stream: the envelope framing of
 * gRPC, gRPC-Web and Connect written by hand around the shared {@link StepStream}
 * core, without connect-node's per-message async-iterable pipeline. Replies
 * and errors are identical to the connect-node path.
 */
export function serveFastStep(
  stream: http2.ServerHttp2Stream,
  protocol: StepWireProtocol,
  router: EnvironmentRouter,
  shutdown: AbortSignal,
  headers: http2.IncomingHttpHeaders = {},
): void {
  // Node emits a new stream a tick after its HEADERS arrived: a client that reset it (or
  // dropped the connection) in the same packet leaves a destroyed stream, and respond()
  // on it would throw out of the request handler and take the server down.
  if (stream.destroyed || stream.closed) return;
  let finished = false;
  const finish = (err: ConnectError | undefined): void => {
    if (finished) return;
    finished = true;
    endStream(stream, protocol, err);
  };
  const sink: ReplySink = {
    push(res: StepResponse) {
      if (finished || stream.destroyed) return;
      stream.write(encodeStepResponse(res, true));
    },
    end: () => finish(undefined),
    fail: (err) => finish(err),
  };
  respond(stream, protocol);
  const keepSession = wantsKeepSession(headers[keepSessionHeader]);
  const core = router.openStepStream(sink, { keepSession, requestHeaders: headers });
  // A stream blocked waiting for the next request does not notice shutdown by itself.
  const unlisten = abortOn(shutdown, core);
  const reader = new EnvelopeReader(router.maxMessageBytes);
  let inputEnded = false;
  stream.on("data", (chunk: Buffer) => {
    if (inputEnded) return;
    const cause = feedStepRequests(reader, chunk, core);
    if (cause !== undefined) {
      inputEnded = true;
      finish(cause);
    }
  });
  stream.on("end", () => {
    if (inputEnded) return;
    inputEnded = true;
    const cause = endOfStepRequests(reader, core);
    if (cause !== undefined) return finish(cause);
    // Node emits 'end' before 'aborted' when the client resets the stream (RST_STREAM,
    // e.g. a cancelled gRPC call): wait a turn, so that a cancel is a drop (the session
    // stays for a resume, see 'close') and only a real half-close ends the session.
    setImmediate(() => {
      if (!stream.aborted && !stream.destroyed) core.finish();
    });
  });
  stream.on("close", () => {
    unlisten();
    if (!finished) {
      finished = true;
      core.abort(new ConnectError("the client cancelled the stream", Code.Canceled));
    }
  });
  stream.on("error", () => {});
}

/**
 * Feeds the complete StepRequest envelopes of a request body's chunk to a Step
 * stream. A broken request (compressed, undecodable, too large) aborts the stream;
 * the error is returned so that the transport ends its response with it.
 */
export function feedStepRequests(reader: EnvelopeReader, chunk: Uint8Array, input: StepInput): ConnectError | undefined {
  try {
    reader.push(chunk, (_flags, data) => {
      let req: StepRequest;
      try {
        req = fromBinary(StepRequestSchema, data);
      } catch (e) {
        throw new ConnectError(`cannot decode StepRequest: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
      }
      input.feed(req);
    });
    return undefined;
  } catch (err) {
    const cause = ConnectError.from(err, Code.Internal);
    input.abort(cause);
    return cause;
  }
}

/** The request body ended: an error (the stream aborted with it) when it ended inside a message. */
export function endOfStepRequests(reader: EnvelopeReader, input: StepInput): ConnectError | undefined {
  if (reader.pending === 0) return undefined;
  const cause = new ConnectError("the request stream ended inside a message", Code.InvalidArgument);
  input.abort(cause);
  return cause;
}

function respond(stream: http2.ServerHttp2Stream, protocol: StepWireProtocol): void {
  stream.respond({ ":status": 200, "content-type": STEP_CONTENT_TYPES[protocol] }, { waitForTrailers: protocol === "grpc" });
}

/** Ends the response with the protocol's status: gRPC trailers, a gRPC-Web trailer frame, or a Connect end-stream message. */
function endStream(stream: http2.ServerHttp2Stream, protocol: StepWireProtocol, err: ConnectError | undefined): void {
  if (stream.destroyed || stream.closed) return;
  try {
    const end = endOfStream(protocol, err);
    if ("trailers" in end) {
      // The http2 compat layer (which created this stream's request object) would send its own, empty trailers.
      stream.removeAllListeners("wantTrailers");
      stream.once("wantTrailers", () => {
        const out: http2.OutgoingHttpHeaders = {};
        end.trailers.forEach((value, key) => {
          out[key] = value;
        });
        if (!stream.destroyed) stream.sendTrailers(out);
      });
    } else {
      stream.write(end.body);
    }
    stream.end();
  } catch {
    stream.destroy();
  }
}
