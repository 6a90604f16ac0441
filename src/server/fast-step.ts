import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamToJson } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import type { StepRequest, StepResponse } from "../../gen/openenv/v1/environment_service_pb.js";
import { EnvelopeReader, encodeEnvelope } from "../protocol/envelope.js";
import { toConnectError } from "../protocol/errors.js";
import { decodeStepRequest, encodeStepResponse } from "../protocol/step-codec.js";
import type { EnvironmentRouter } from "./router.js";
import { keepSessionHeader, type ReplySink, StepStream, wantsKeepSession } from "./step-stream.js";

/** The path of the bidi Step method. */
export const STEP_PATH = "/openenv.v1.EnvironmentService/Step";

/** The wire protocols the fast path speaks (binary protobuf, no compression). */
export type StepWireProtocol = "grpc" | "grpc-web" | "connect";

/** The response content type of each protocol. */
export const stepContentTypes: Record<StepWireProtocol, string> = {
  grpc: "application/grpc+proto",
  "grpc-web": "application/grpc-web+proto",
  connect: "application/connect+proto",
};

/**
 * Which protocol a Step request speaks, if the fast path can serve it: binary
 * protobuf, identity encoding, no stream-level timeout. Anything else (JSON,
 * compression, deadlines) goes to connect-node, which implements it all.
 */
export function fastStepProtocol(headers: http2.IncomingHttpHeaders): StepWireProtocol | undefined {
  const ct = headers["content-type"];
  let protocol: StepWireProtocol | undefined;
  if (ct === "application/grpc" || ct === "application/grpc+proto") protocol = "grpc";
  else if (ct === "application/grpc-web" || ct === "application/grpc-web+proto") protocol = "grpc-web";
  else if (ct === "application/connect+proto") protocol = "connect";
  if (protocol === undefined) return undefined;
  if (protocol === "connect") {
    if (headers["connect-timeout-ms"] !== undefined) return undefined;
    const enc = headers["connect-content-encoding"];
    if (enc !== undefined && enc !== "identity") return undefined;
  } else {
    if (headers["grpc-timeout"] !== undefined) return undefined;
    const enc = headers["grpc-encoding"];
    if (enc !== undefined && enc !== "identity") return undefined;
  }
  return protocol;
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
  const core = new StepStream(router.sessions, router.spec, sink, shutdown, {
    recordSize: router.recordSize,
    keepSession,
    requestHeaders: headers,
  });
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
    if (cause !== undefined) {
      finish(cause);
      return;
    }
    // Node emits 'end' before 'aborted' when the client resets the stream (RST_STREAM,
    // e.g. a cancelled gRPC call): wait a turn, so that a cancel is a drop (the session
    // stays for a resume, see 'close') and only a real half-close ends the session.
    setImmediate(() => {
      if (!stream.aborted && !stream.destroyed) core.finish();
    });
  });
  stream.on("close", () => {
    if (!finished) {
      finished = true;
      core.abort(new ConnectError("the client cancelled the stream", Code.Canceled));
    }
  });
  stream.on("error", () => {});
}

/**
 * Feeds the complete StepRequest envelopes of a chunk to the stream core. A broken
 * request (compressed, undecodable, too large) aborts the core; the error is returned
 * so that the caller ends the response with it.
 */
export function feedStepRequests(reader: EnvelopeReader, chunk: Buffer, core: StepStream): ConnectError | undefined {
  try {
    reader.push(chunk);
    for (let env = reader.next(); env !== undefined; env = reader.next()) {
      if ((env.flags & 0x01) !== 0) {
        throw new ConnectError("received a compressed message without a negotiated encoding", Code.Internal);
      }
      let req: StepRequest;
      try {
        req = decodeStepRequest(env.data);
      } catch (e) {
        throw new ConnectError(`cannot decode StepRequest: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
      }
      core.feed(req);
    }
    return undefined;
  } catch (err) {
    const cause = toConnectError(err);
    core.abort(cause);
    return cause;
  }
}

/** The request body ended: an error (core aborted) when it ended inside a message. */
export function endOfStepRequests(reader: EnvelopeReader, core: StepStream): ConnectError | undefined {
  if (reader.pending === 0) return undefined;
  const cause = new ConnectError("the request stream ended inside a message", Code.InvalidArgument);
  core.abort(cause);
  return cause;
}

/** The last frame of a gRPC-Web or Connect response body: the trailer frame or the end-stream message. */
export function endOfStepResponse(protocol: "grpc-web" | "connect", err: ConnectError | undefined): Buffer[] {
  if (protocol === "grpc-web") return encodeEnvelope(trailerFlag, trailerSerialize(setTrailerStatus(new Headers(), err)));
  return encodeEnvelope(endStreamFlag, Buffer.from(JSON.stringify(endStreamToJson(new Headers(), err, undefined))));
}

/** Answers a Step request with an error and no messages (e.g. UNAUTHENTICATED). */
export function rejectFastStep(stream: http2.ServerHttp2Stream, protocol: StepWireProtocol, err: ConnectError): void {
  if (stream.destroyed) return;
  respond(stream, protocol);
  stream.resume(); // discard whatever the client sends
  endStream(stream, protocol, err);
}

function respond(stream: http2.ServerHttp2Stream, protocol: StepWireProtocol): void {
  stream.respond({ ":status": 200, "content-type": stepContentTypes[protocol] }, { waitForTrailers: protocol === "grpc" });
}

/** Ends the response with the protocol's status: gRPC trailers, a gRPC-Web trailer frame, or a Connect end-stream message. */
function endStream(stream: http2.ServerHttp2Stream, protocol: StepWireProtocol, err: ConnectError | undefined): void {
  if (stream.destroyed || stream.closed) return;
  try {
    if (protocol === "grpc") {
      const trailers = setTrailerStatus(new Headers(), err);
      // The http2 compat layer (which created this stream's request object) would send its own, empty trailers.
      stream.removeAllListeners("wantTrailers");
      stream.once("wantTrailers", () => {
        const out: http2.OutgoingHttpHeaders = {};
        trailers.forEach((value, key) => {
          out[key] = value;
        });
        if (!stream.destroyed) stream.sendTrailers(out);
      });
      stream.end();
    } else {
      for (const b of endOfStepResponse(protocol, err)) stream.write(b);
      stream.end();
    }
  } catch {
    stream.destroy();
  }
}
