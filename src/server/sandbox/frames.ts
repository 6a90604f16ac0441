// Length-prefixed frames from a sandboxed process: hostile input, so every frame is
// bounded, its header is checked before its body is buffered, and chunks are joined
// once per frame (never the quadratic re-concatenation of a growing buffer).

/** A frame stream broke its contract; the peer is not to be trusted any further. */
export class FrameError extends Error {
  override readonly name = "FrameError";
}

/**
 * Splits a byte stream into frames of a 4-byte big-endian length and a body.
 * A length over `maxFrameBytes` is refused as soon as its header arrives.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private broken: FrameError | undefined;

  constructor(readonly maxFrameBytes: number) {}

  /** Adds bytes; returns the bodies of the frames they complete. Throws {@link FrameError} (and keeps throwing) on an oversized frame. */
  push(chunk: Buffer): Buffer[] {
    if (this.broken !== undefined) throw this.broken;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    while (this.buffered >= 4) {
      if (this.chunks[0].length < 4) this.join();
      const size = this.chunks[0].readUInt32BE(0);
      if (size > this.maxFrameBytes) {
        this.chunks = [];
        this.buffered = 0;
        this.broken = new FrameError(`a frame of ${size} bytes (the limit is ${this.maxFrameBytes})`);
        throw this.broken;
      }
      if (this.buffered < 4 + size) break;
      if (this.chunks[0].length < 4 + size) this.join();
      const first = this.chunks[0];
      out.push(first.subarray(4, 4 + size));
      const rest = first.subarray(4 + size);
      this.buffered -= 4 + size;
      if (rest.length > 0) this.chunks[0] = rest;
      else this.chunks.shift();
    }
    return out;
  }

  private join(): void {
    this.chunks = [Buffer.concat(this.chunks, this.buffered)];
  }
}

/** Encodes one frame. */
export function encodeFrame(body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}
