/**
 * The Step stream on the wire, shared by the server's and the client's direct
 * HTTP/2 paths: its path (from the generated service descriptor), the content
 * types and request headers of binary gRPC, gRPC-Web and Connect (connect-es's
 * own), the 5-byte envelopes around each message, and how each protocol ends a
 * stream with its status.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import * as connect from "@connectrpc/connect/protocol-connect";
import * as grpc from "@connectrpc/connect/protocol-grpc";
import * as grpcWeb from "@connectrpc/connect/protocol-grpc-web";
import { EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import type { HeaderValues } from "../client/backend.js";

/** The bidi Step method. */
export const STEP_METHOD = EnvironmentService.method.step;

/** The HTTP path of the Step method: `/openenv.v1.EnvironmentService/Step`. */
export const STEP_PATH = `/${EnvironmentService.typeName}/${STEP_METHOD.name}`;

/** The protocols the direct Step path speaks (binary protobuf, no compression). */
export type StepWireProtocol = "grpc" | "grpc-web" | "connect";

/** The content type each protocol's client sends and its server answers with. */
export const STEP_CONTENT_TYPES: Readonly<Record<StepWireProtocol, string>> = {
  grpc: grpc.contentTypeProto,
  "grpc-web": grpcWeb.contentTypeProto,
  connect: connect.contentTypeStreamProto,
};

/** Flag bit of a compressed message envelope. */
const COMPRESSED = 0x01;

/**
 * The protocol of a Step request, if the direct path can serve it: binary
 * protobuf, identity encoding, no stream deadline. Anything else (JSON,
 * gRPC-Web text, compression, deadlines) is connect-node's to serve.
 */
export function stepProtocolOf(header: (name: string) => string | undefined): StepWireProtocol | undefined {
  const ct = header("content-type") ?? null;
  let protocol: StepWireProtocol;
  const web = grpcWeb.parseContentType(ct);
  const stream = connect.parseContentType(ct);
  if (grpc.parseContentType(ct)?.binary === true) protocol = "grpc";
  else if (web?.binary === true && !web.text) protocol = "grpc-web";
  else if (stream?.binary === true && stream.stream) protocol = "connect";
  else return undefined;
  const [timeout, encoding] =
    protocol === "connect" ? [connect.headerTimeout, connect.headerStreamEncoding] : [grpc.headerTimeout, grpc.headerEncoding];
  if (header(timeout.toLowerCase()) !== undefined) return undefined;
  const enc = header(encoding.toLowerCase());
  return enc === undefined || enc === "identity" ? protocol : undefined;
}

/** The headers a client sends to open a Step stream: connect-es's own for the protocol, plus the user's. */
export function stepRequestHeaders(protocol: StepWireProtocol, user: HeaderValues | undefined): Headers {
  switch (protocol) {
    case "grpc":
      return grpc.requestHeader(true, undefined, user);
    case "grpc-web":
      return grpcWeb.requestHeader(true, undefined, user, true);
    case "connect":
      return connect.requestHeader("server_streaming", true, undefined, user, true);
  }
}

/** One message with the 5-byte envelope (flags, big-endian length) in front. */
export function envelope(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return encodeEnvelope(0, data);
}

/**
 * How a server ends a Step stream: gRPC's status goes in HTTP trailers, which
 * the caller sends; gRPC-Web's in a trailer envelope and Connect's in an
 * end-stream envelope, both returned as the stream's last bytes.
 */
export function endOfStream(protocol: StepWireProtocol, err: ConnectError | undefined): { trailers: Headers } | { body: Uint8Array } {
  switch (protocol) {
    case "grpc":
      return { trailers: grpc.setTrailerStatus(new Headers(), err) };
    case "grpc-web":
      return { body: encodeEnvelope(grpcWeb.trailerFlag, grpcWeb.trailerSerialize(grpc.setTrailerStatus(new Headers(), err))) };
    case "connect": {
      const json = JSON.stringify(connect.endStreamToJson(new Headers(), err, undefined));
      return { body: encodeEnvelope(connect.endStreamFlag, new TextEncoder().encode(json)) };
    }
  }
}

/**
 * The status a client reads at the end of a Step stream: from a gRPC-Web
 * trailer or Connect end-stream envelope (`undefined` for any other envelope),
 * or, for gRPC, from the HTTP trailers (or the headers of a trailers-only answer).
 */
export function readEndOfStream(
  protocol: StepWireProtocol,
  flags: number,
  data: Uint8Array,
): { error: ConnectError | undefined } | undefined {
  if (protocol === "grpc-web" && (flags & grpcWeb.trailerFlag) === grpcWeb.trailerFlag) {
    return { error: grpc.findTrailerError(grpcWeb.trailerParse(data)) };
  }
  if (protocol === "connect" && (flags & connect.endStreamFlag) === connect.endStreamFlag) {
    return { error: connect.endStreamFromJson(data).error };
  }
  return undefined;
}

/** The gRPC status in HTTP trailers (or the headers of a trailers-only answer), if it is an error. */
export const trailerError: (trailers: Headers) => ConnectError | undefined = grpc.findTrailerError;

/** Whether headers carry a gRPC status (a trailers-only answer). */
export function hasGrpcStatus(headers: Headers): boolean {
  return headers.has(grpc.headerGrpcStatus);
}

/**
 * Splits a byte stream into envelopes synchronously, however the bytes are
 * chunked. connect-es's own decoder (`createEnvelopeDecoder`) is not exported
 * (2.1 to 2.3), and what is exported (`transformSplitEnvelope`,
 * `createEnvelopeReadableStream`) awaits per message: measured at 3 to 5 µs of
 * CPU more per message than this, on a step that costs about 25 µs per side.
 */
export class EnvelopeReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly readMaxBytes: number) {}

  /** Bytes received but not yet part of a complete envelope. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Adds a chunk and calls `onEnvelope` for each complete envelope. Throws
   * RESOURCE_EXHAUSTED for a message over the limit (before buffering it), and
   * INTERNAL for a compressed one (no encoding is negotiated on this path).
   */
  push(chunk: Uint8Array, onEnvelope: (flags: number, data: Uint8Array) => void): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 5) {
      const head = this.peek(5);
      const size = (((head[1] as number) << 24) | ((head[2] as number) << 16) | ((head[3] as number) << 8) | (head[4] as number)) >>> 0;
      if (size > this.readMaxBytes) {
        throw new ConnectError(`message size ${size} is larger than configured readMaxBytes ${this.readMaxBytes}`, Code.ResourceExhausted);
      }
      if (this.buffered < 5 + size) return;
      const all = this.take(5 + size);
      const flags = all[0] as number;
      if ((flags & COMPRESSED) !== 0) {
        throw new ConnectError("received a compressed message without a negotiated encoding", Code.Internal);
      }
      onEnvelope(flags, all.subarray(5));
    }
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array;
    return first.length >= n ? first : this.join().subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0] as Uint8Array;
    this.buffered -= n;
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const joined = this.join();
    this.chunks = joined.length > n ? [joined.subarray(n)] : [];
    return joined.subarray(0, n);
  }

  private join(): Uint8Array {
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }
}
