/**
 * A minimal protobuf wire writer and reader for the Step hot path. protobuf-es
 * is reflection-driven and allocates a chunk per nested message; this writes
 * into one reusable buffer and reserves length prefixes in place.
 */

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

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

/** Reads protobuf fields from a byte array. */
export class ProtoReader {
  pos: number;
  readonly end: number;
  private view: DataView | undefined;

  constructor(
    readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let shift = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new RangeError("truncated varint");
      const b = this.buf[this.pos++] as number;
      result += (b & 0x7f) * shift;
      if (b < 0x80) return result;
      shift *= 128;
    }
    throw new RangeError("varint too long");
  }

  /** The next field's number and wire type. */
  tag(): [field: number, wireType: number] {
    const t = this.varint();
    return [Math.floor(t / 8), t & 7];
  }

  /** The bounds of the next length-delimited value. */
  delimited(): [start: number, end: number] {
    const n = this.varint();
    const start = this.pos;
    const end = start + n;
    if (end > this.end) throw new RangeError("length-delimited field overruns its message");
    this.pos = end;
    return [start, end];
  }

  /** Reads a string field; `repeats` as for {@link ProtoWriter.string}: only then is the decode cache used. */
  string(repeats = false): string {
    const [s, e] = this.delimited();
    return repeats ? decodeString(this.buf, s, e) : decoder.decode(this.buf.subarray(s, e));
  }

  bytes(): Uint8Array {
    const [s, e] = this.delimited();
    return this.buf.slice(s, e);
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new RangeError("truncated double");
    this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.delimited();
        return;
      case WIRE_I32:
        this.pos += 4;
        break;
      default:
        throw new RangeError(`cannot skip wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new RangeError("truncated field");
  }
}

const decoder = new TextDecoder("utf-8", { fatal: false });

/** Strings up to this many UTF-16 units (bytes when decoding) go through the caches below. */
const CACHED_STRING_MAX = 64;
const ENCODED_CACHE_SIZE = 1024;
const encodedStrings = new Map<string, Buffer>();

interface DecodedString {
  bytes: Uint8Array;
  text: string;
}
const decodedStrings: (DecodedString | undefined)[] = new Array(64);

/**
 * Decodes UTF-8, answering repeats of recent short strings (ids, type URLs) from
 * a small cache: comparing 40 bytes is cheaper than decoding and allocating them.
 */
function decodeString(buf: Uint8Array, start: number, end: number): string {
  const length = end - start;
  if (length === 0) return "";
  if (length > CACHED_STRING_MAX) return decoder.decode(buf.subarray(start, end));
  const slot = (length * 31 + (buf[start] as number) * 7 + (buf[end - 1] as number)) & 63;
  const hit = decodedStrings[slot];
  if (hit !== undefined && hit.bytes.length === length) {
    const bytes = hit.bytes;
    let i = 0;
    while (i < length && bytes[i] === buf[start + i]) i++;
    if (i === length) return hit.text;
  }
  const bytes = buf.slice(start, end);
  const text = decoder.decode(bytes);
  decodedStrings[slot] = { bytes, text };
  return text;
}
