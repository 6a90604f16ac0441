import { StringDecoder } from "node:string_decoder";

/** What a chunk of a captured stream contained, in order. */
export type CaptureEvent = { readonly kind: "text"; readonly text: string } | { readonly kind: "marker" };

/**
 * Reads one of the interpreter's output pipes, splitting it at the end
 * marker the driver writes after each execution, so that output is
 * attributed to the execution that produced it even when it came from a
 * subprocess writing to the inherited descriptor.
 *
 * Bytes that could be the start of a marker split across two reads are held
 * back until the next read decides; UTF-8 sequences split across reads are
 * decoded whole.
 */
export class OutputCapture {
  private held: Buffer = Buffer.alloc(0);
  private marker: Buffer | undefined;
  private decoder = new StringDecoder("utf8");

  /** Waits for `marker` in the stream from now on. */
  expect(marker: Buffer): void {
    this.marker = marker;
  }

  /** Splits a chunk read from the pipe into text and marker events. */
  push(chunk: Buffer): CaptureEvent[] {
    const events: CaptureEvent[] = [];
    let buf = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    this.held = Buffer.alloc(0);
    const marker = this.marker;
    if (marker !== undefined) {
      const at = buf.indexOf(marker);
      if (at >= 0) {
        this.text(buf.subarray(0, at), events);
        const rest = this.decoder.end();
        if (rest !== "") events.push({ kind: "text", text: rest });
        this.decoder = new StringDecoder("utf8");
        events.push({ kind: "marker" });
        this.marker = undefined;
        buf = buf.subarray(at + marker.length);
      } else {
        const keep = partialSuffix(buf, marker);
        this.held = Buffer.from(buf.subarray(buf.length - keep));
        buf = buf.subarray(0, buf.length - keep);
      }
    }
    this.text(buf, events);
    return events;
  }

  /** Whatever is held back, as text (at the end of the stream). */
  flush(): CaptureEvent[] {
    const events: CaptureEvent[] = [];
    this.text(this.held, events);
    this.held = Buffer.alloc(0);
    const rest = this.decoder.end();
    if (rest !== "") events.push({ kind: "text", text: rest });
    return events;
  }

  private text(bytes: Buffer, events: CaptureEvent[]): void {
    if (bytes.length === 0) return;
    const text = this.decoder.write(bytes);
    if (text !== "") events.push({ kind: "text", text });
  }
}

/** Length of the longest suffix of `buf` that is a proper prefix of `marker`. */
function partialSuffix(buf: Buffer, marker: Buffer): number {
  // Only positions holding the marker's first byte (NUL) can start it.
  const from = Math.max(0, buf.length - (marker.length - 1));
  for (let i = buf.indexOf(marker[0], from); i >= 0; i = buf.indexOf(marker[0], i + 1)) {
    const n = buf.length - i;
    if (buf.subarray(i).equals(marker.subarray(0, n))) return n;
  }
  return 0;
}

/** Collects one stream's output of one execution, up to a cap. */
export class Collector {
  text = "";
  bytes = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  /** Adds text; returns the part that fit under the cap. */
  add(text: string): string {
    if (this.truncated) return "";
    const size = Buffer.byteLength(text);
    if (this.bytes + size <= this.cap) {
      this.bytes += size;
      this.text += text;
      return text;
    }
    const fit = Buffer.from(text)
      .subarray(0, this.cap - this.bytes)
      .toString("utf8")
      .replace(/\uFFFD$/, "");
    this.text += fit;
    this.bytes = this.cap;
    this.truncated = true;
    return fit;
  }
}
