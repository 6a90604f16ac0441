import { Code, ConnectError } from "@connectrpc/connect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EnvelopeReader,
  endOfStream,
  envelope,
  hasGrpcStatus,
  readEndOfStream,
  STEP_CONTENT_TYPES,
  STEP_PATH,
  type StepWireProtocol,
  stepProtocolOf,
  stepRequestHeaders,
  trailerError,
} from "./step-wire.js";

const protocols: StepWireProtocol[] = ["grpc", "grpc-web", "connect"];

function read(reader: EnvelopeReader, chunk: Uint8Array): { flags: number; data: number[] }[] {
  const out: { flags: number; data: number[] }[] = [];
  reader.push(chunk, (flags, data) => out.push({ flags, data: [...data] }));
  return out;
}

describe("the Step wire", () => {
  it("takes the Step path from the service descriptor", () => {
    expect(STEP_PATH).toBe("/openenv.v1.EnvironmentService/Step");
  });

  it("serves binary, uncompressed, deadline-free Step requests directly and leaves the rest to connect-node", () => {
    const of = (headers: Record<string, string>) => stepProtocolOf((name) => headers[name]);
    expect(of({ "content-type": "application/grpc" })).toBe("grpc");
    expect(of({ "content-type": "application/grpc+proto" })).toBe("grpc");
    expect(of({ "content-type": "application/grpc-web+proto" })).toBe("grpc-web");
    expect(of({ "content-type": "application/grpc-web" })).toBe("grpc-web");
    expect(of({ "content-type": "application/connect+proto" })).toBe("connect");
    for (const ct of [
      "application/grpc+json",
      "application/grpc-web-text",
      "application/connect+json",
      "application/proto",
      "text/plain",
    ]) {
      expect(of({ "content-type": ct }), ct).toBeUndefined();
    }
    expect(of({})).toBeUndefined();
    expect(of({ "content-type": "application/grpc", "grpc-timeout": "5S" })).toBeUndefined();
    expect(of({ "content-type": "application/grpc", "grpc-encoding": "gzip" })).toBeUndefined();
    expect(of({ "content-type": "application/grpc", "grpc-encoding": "identity" })).toBe("grpc");
    expect(of({ "content-type": "application/connect+proto", "connect-timeout-ms": "100" })).toBeUndefined();
    expect(of({ "content-type": "application/connect+proto", "connect-content-encoding": "gzip" })).toBeUndefined();
  });

  it("opens a stream with connect-es's request headers for each protocol, and the user's", () => {
    for (const p of protocols) {
      const h = stepRequestHeaders(p, { authorization: "Bearer t" });
      expect(h.get("content-type")).toBe(STEP_CONTENT_TYPES[p]);
      expect(h.get("authorization")).toBe("Bearer t");
      expect(stepProtocolOf((name) => h.get(name) ?? undefined)).toBe(p);
    }
    expect(stepRequestHeaders("grpc", undefined).get("te")).toBe("trailers");
    expect(stepRequestHeaders("connect", undefined).get("connect-protocol-version")).toBe("1");
  });

  it("reads envelopes however the bytes are chunked", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 10 }), (messages, cuts) => {
        const bytes = Buffer.concat(messages.map((m) => envelope(m)));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const reader = new EnvelopeReader(1024);
        const out: number[][] = [];
        let from = 0;
        for (const to of [...points, bytes.length]) {
          for (const e of read(reader, bytes.subarray(from, to))) out.push(e.data);
          from = to;
        }
        expect(out).toEqual(messages.map((m) => [...m]));
        expect(reader.pending).toBe(0);
      }),
    );
  });

  it("keeps a partial envelope pending", () => {
    const reader = new EnvelopeReader(1024);
    expect(read(reader, envelope(new Uint8Array([1, 2, 3])).subarray(0, 6))).toEqual([]);
    expect(reader.pending).toBe(6);
  });

  it("refuses a message over the limit from its header alone, and a compressed one", () => {
    const reader = new EnvelopeReader(10);
    const header = new Uint8Array([0, 0xff, 0xff, 0xff, 0xff]);
    expect(() => read(reader, header)).toThrow(expect.objectContaining({ code: Code.ResourceExhausted }));
    const compressed = envelope(new Uint8Array([1]));
    compressed[0] = 1;
    expect(() => read(new EnvelopeReader(10), compressed)).toThrow(expect.objectContaining({ code: Code.Internal }));
  });

  it("ends a stream with the status each protocol's client reads back", () => {
    const err = new ConnectError("session idle", Code.Aborted);
    for (const p of protocols) {
      for (const status of [undefined, err]) {
        const end = endOfStream(p, status);
        let got: ConnectError | undefined;
        if ("trailers" in end) {
          expect(p).toBe("grpc");
          got = trailerError(end.trailers);
        } else {
          const reader = new EnvelopeReader(1 << 20);
          const [e] = read(reader, end.body);
          const read_ = readEndOfStream(p, e?.flags ?? 0, new Uint8Array(e?.data ?? []));
          expect(read_).toBeDefined();
          got = read_?.error;
        }
        expect(got?.code).toBe(status?.code);
        expect(got?.rawMessage).toBe(status?.rawMessage);
      }
    }
    expect(readEndOfStream("connect", 0, new Uint8Array())).toBeUndefined();
    expect(readEndOfStream("grpc", 0x80, new Uint8Array())).toBeUndefined();
  });

  it("recognises a gRPC trailers-only answer", () => {
    expect(hasGrpcStatus(new Headers({ "grpc-status": "16" }))).toBe(true);
    expect(trailerError(new Headers({ "grpc-status": "16", "grpc-message": "no" }))?.code).toBe(Code.Unauthenticated);
    expect(hasGrpcStatus(new Headers({ "content-type": "application/grpc" }))).toBe(false);
  });
});
