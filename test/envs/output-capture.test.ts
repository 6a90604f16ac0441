import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CaptureEvent, OutputCapture } from "../../src/envs/coding/output-capture.js";

const marker = Buffer.from("\x00OPENENV-END:abc:1\x00");

/** Feeds `data` split at `cuts`; returns the text before the marker, whether it was seen, and the text after. */
function feed(data: Buffer, cuts: number[]): { before: string; seen: boolean; after: string } {
  const capture = new OutputCapture();
  capture.expect(marker);
  const events: CaptureEvent[] = [];
  let from = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < data.length)].sort((a, b) => a - b).concat(data.length)) {
    events.push(...capture.push(data.subarray(from, cut)));
    from = cut;
  }
  events.push(...capture.flush());
  const at = events.findIndex((e) => e.kind === "marker");
  const text = (es: CaptureEvent[]) => es.map((e) => (e.kind === "text" ? e.text : "")).join("");
  return at < 0
    ? { before: text(events), seen: false, after: "" }
    : { before: text(events.slice(0, at)), seen: true, after: text(events.slice(at + 1)) };
}

describe("output capture", () => {
  it("finds the marker however the stream is split, and decodes UTF-8 split across reads", () => {
    const before = "héllo wörld ✓ \u0000 not a marker\n";
    const after = "late output 日本\n";
    const data = Buffer.concat([Buffer.from(before), marker, Buffer.from(after)]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: data.length }), { maxLength: 12 }), (cuts) => {
        expect(feed(data, cuts)).toEqual({ before, seen: true, after });
      }),
    );
  });

  it("passes through text that only looks like the start of a marker", () => {
    const data = Buffer.from("a\x00OPENENV-END:abc:2\x00b\x00OPEN");
    expect(feed(data, [3, 10])).toEqual({ before: "a\x00OPENENV-END:abc:2\x00b\x00OPEN", seen: false, after: "" });
  });
});
