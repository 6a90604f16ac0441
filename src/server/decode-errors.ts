import { type DescMessage, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";

/**
 * Makes connect-node answer a request body that is not the method's binary
 * message with INVALID_ARGUMENT (the caller's fault) instead of the INTERNAL it
 * reports for any decoding failure. Each handler's request body is checked as it
 * streams by: every uncompressed binary message (a Connect unary body, or the
 * envelopes of gRPC, gRPC-Web and Connect streams) is decoded once here, and a
 * failure is thrown from the body, which the handler reports with this code.
 * Compressed and JSON bodies pass unchecked (JSON errors are typed already).
 */
export function typeDecodeErrors(handlers: UniversalHandler[], maxMessageBytes: number): void {
  for (let i = 0; i < handlers.length; i++) {
    const handler = handlers[i];
    const input = handler.method.input;
    const checked = Object.assign((req: UniversalServerRequest) => handler(withCheckedBody(req, input, maxMessageBytes)), handler);
    handlers[i] = checked;
  }
}

function withCheckedBody(req: UniversalServerRequest, input: DescMessage, limit: number): UniversalServerRequest {
  const body = req.body;
  if (req.method !== "POST" || body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) return req;
  const type = (req.header.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/proto") {
    const encoding = req.header.get("content-encoding");
    if (encoding !== null && encoding !== "identity") return req;
    return { ...req, body: checkWhole(body as AsyncIterable<Uint8Array>, input, limit) };
  }
  if (/^application\/(grpc|grpc\+proto|grpc-web|grpc-web\+proto|connect\+proto)$/.test(type)) {
    return { ...req, body: checkEnvelopes(body as AsyncIterable<Uint8Array>, input, limit) };
  }
  return req;
}

function check(input: DescMessage, bytes: Uint8Array): void {
  try {
    fromBinary(input, bytes);
  } catch (e) {
    throw new ConnectError(`parse binary: ${e instanceof Error ? e.message : String(e)}`, Code.InvalidArgument);
  }
}

/** A Connect unary body: one message, checked once it is complete (a body over the limit is left to the handler to refuse). */
async function* checkWhole(body: AsyncIterable<Uint8Array>, input: DescMessage, limit: number): AsyncIterable<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size > limit) {
      yield chunk;
      continue;
    }
    chunks.push(chunk);
    size += chunk.length;
    if (size > limit) yield* chunks.splice(0);
  }
  if (size > limit) return;
  const all = Buffer.concat(chunks);
  check(input, all);
  yield all;
}

/**
 * Envelopes (flags byte, 4-byte length, message): each uncompressed message is
 * checked before it is passed on. Chunks are joined once per envelope, and an
 * envelope over the limit switches checking off (the handler refuses it).
 */
async function* checkEnvelopes(body: AsyncIterable<Uint8Array>, input: DescMessage, limit: number): AsyncIterable<Uint8Array> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let passThrough = false;
  for await (const chunk of body) {
    if (passThrough) {
      yield chunk;
      continue;
    }
    pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    pendingBytes += chunk.length;
    for (;;) {
      if (pendingBytes < 5) break;
      if (pending[0].length < 5) pending = [Buffer.concat(pending)];
      const size = pending[0].readUInt32BE(1);
      if (size > limit) {
        passThrough = true;
        yield* pending.splice(0);
        break;
      }
      if (pendingBytes < 5 + size) break;
      const all = pending.length === 1 ? pending[0] : Buffer.concat(pending);
      // Flag 1: compressed (left to the handler); flag 2: Connect's end-of-stream message.
      if ((all[0] & 0b11) === 0) check(input, all.subarray(5, 5 + size));
      yield all.subarray(0, 5 + size);
      const rest = all.subarray(5 + size);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
    }
  }
  if (pendingBytes > 0) yield* pending;
}
