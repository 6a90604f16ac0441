/**
 * A minimal protobuf wire writer for the Step hot path's encoders
 * (step-codec.ts). protobuf-es is reflection-driven and allocates a chunk per
 * nested message; this writes into one reusable buffer and reserves length
 * prefixes in place.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;

/** Writes protobuf fields into a growable buffer that is reused between messages. */
export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Starts a new message at `offset` bytes into the buffer (room for an envelope prefix). */
  reset(offset = 0): this {
    this.pos = offset;
    return this;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    let v = value;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v = v > 0xffffffff ? Math.floor(v / 128) : v >>> 7;
    }
    this.buf[this.pos++] = v;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /**
   * Writes a string field. `repeats`: the value recurs on many messages (session
   * ids, episode ids, type URLs), so its UTF-8 bytes are cached; never for values
   * unique per message (request ids), which would only churn the cache.
   */
  string(field: number, value: string, repeats = false): void {
    this.tag(field, WIRE_LEN);
    if (repeats && value.length <= CACHED_STRING_MAX) {
      let bytes = encodedStrings.get(value);
      if (bytes === undefined) {
        if (encodedStrings.size >= ENCODED_CACHE_SIZE) encodedStrings.clear();
        bytes = Buffer.from(value, "utf8");
        encodedStrings.set(value, bytes);
      }
      this.varint(bytes.length);
      this.ensure(bytes.length);
      this.buf.set(bytes, this.pos);
      this.pos += bytes.length;
      return;
    }
    const n = Buffer.byteLength(value, "utf8");
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(value, this.pos, n, "utf8");
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
  }

  double(field: number, value: number): void {
    this.tag(field, WIRE_I64);
    this.ensure(8);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  bool(field: number, value: boolean): void {
    this.tag(field, WIRE_VARINT);
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  /** Writes the tag of a length-delimited field and reserves 5 bytes for its length; returns the reservation. */
  begin(field: number): number {
    this.tag(field, WIRE_LEN);
    this.ensure(5);
    const at = this.pos;
    this.pos += 5;
    return at;
  }

  /** Fills in the length reserved by {@link begin}, moving the content left if the length needs fewer than 5 bytes. */
  end(at: number): void {
    const start = at + 5;
    const length = this.pos - start;
    let size = 1;
    for (let v = length; v > 0x7f; v >>>= 7) size++;
    let p = at;
    let v = length;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p++] = v;
    if (size < 5) {
      this.buf.copyWithin(p, start, this.pos);
      this.pos -= 5 - size;
    }
  }

  /** A copy of the bytes written since `from`. */
  take(from = 0): Buffer {
    const out = Buffer.allocUnsafe(this.pos - from);
    this.buf.copy(out, 0, from, this.pos);
    return out;
  }
}

/** Strings up to this many UTF-16 units go through the cache below. */
const CACHED_STRING_MAX = 64;
const ENCODED_CACHE_SIZE = 1024;
const encodedStrings = new Map<string, Buffer>();
