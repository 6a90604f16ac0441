import { Code, ConnectError } from "@connectrpc/connect";

/** One enveloped message: the flags byte and the payload. */
export interface Envelope {
  readonly flags: number;
  readonly data: Uint8Array;
}

/** Messages at or below this size are copied into one buffer with their prefix; larger ones go out as two writes. */
const COPY_LIMIT = 16 * 1024;

/**
 * The 5-byte prefix (flags, big-endian length) that gRPC, gRPC-Web and Connect
 * streaming all put before each message, as one or two buffers to write.
 */
export function encodeEnvelope(flags: number, data: Uint8Array): Buffer[] {
  if (data.length <= COPY_LIMIT) {
    const out = Buffer.allocUnsafe(5 + data.length);
    out[0] = flags;
    out.writeUInt32BE(data.length, 1);
    out.set(data, 5);
    return [out];
  }
  const head = Buffer.allocUnsafe(5);
  head[0] = flags;
  head.writeUInt32BE(data.length, 1);
  return [head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

/**
 * Splits a byte stream into envelopes, however the bytes are chunked.
 * Throws RESOURCE_EXHAUSTED for a message larger than `maxBytes`.
 */
export class EnvelopeReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes received but not yet part of a complete envelope. */
  get pending(): number {
    return this.buffered;
  }

  next(): Envelope | undefined {
    if (this.buffered < 5) return undefined;
    const head = this.peek(5);
    const length = head.readUInt32BE(1);
    if (length > this.maxBytes) {
      throw new ConnectError(`message size ${length} is larger than configured readMaxBytes ${this.maxBytes}`, Code.ResourceExhausted);
    }
    if (this.buffered < 5 + length) return undefined;
    const all = this.take(5 + length);
    return { flags: all[0] as number, data: all.subarray(5) };
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first;
    return Buffer.concat(this.chunks).subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length === n) {
      this.chunks.shift();
      this.buffered -= n;
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const joined = Buffer.concat(this.chunks);
    const rest = joined.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered -= n;
    return joined.subarray(0, n);
  }
}
