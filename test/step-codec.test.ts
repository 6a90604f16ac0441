import { create, equals, fromBinary, type JsonObject, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type StepRequest, StepRequestSchema, type StepResponse, StepResponseSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { decodeStepRequest, decodeStepResponse, encodeStepRequest, encodeStepResponse } from "../src/protocol/step-codec.js";

// JSON numbers survive a double round trip except -0 (Struct has no -0 in JSON terms); keep values comparable.
const json = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.parse(JSON.stringify(v)) as unknown);
const metadata = fc.option(fc.dictionary(fc.string(), json, { maxKeys: 5 }), { nil: undefined }) as fc.Arbitrary<JsonObject | undefined>;
const text = fc.string({ unit: "grapheme", maxLength: 40 });
const double = fc.double({ noNaN: true }).filter((d) => !Object.is(d, -0));

const stepResponse: fc.Arbitrary<StepResponse> = fc
  .record({
    requestId: text,
    sessionId: text,
    replayed: fc.boolean(),
    typeUrl: text,
    value: fc.uint8Array({ maxLength: 64 }),
    hasObservation: fc.boolean(),
    reward: fc.option(double, { nil: undefined }),
    done: fc.boolean(),
    terminated: fc.boolean(),
    truncated: fc.boolean(),
    metadata,
    // protobuf-es cannot hold a `__proto__` key in a map (it would set the map object's
    // prototype), so there is nothing to compare with; the Struct test below covers the key.
    rewardComponents: fc.dictionary(
      text.filter((k) => k !== "__proto__"),
      double,
      { maxKeys: 4 },
    ),
    stepCount: fc.nat({ max: 0xffffffff }),
    episodeId: text,
  })
  .map((r) =>
    create(StepResponseSchema, {
      requestId: r.requestId,
      sessionId: r.sessionId,
      replayed: r.replayed,
      kind: {
        case: "result",
        value: {
          observation: r.hasObservation ? { typeUrl: r.typeUrl, value: r.value } : undefined,
          reward: r.reward,
          done: r.done,
          terminated: r.terminated,
          truncated: r.truncated,
          metadata: r.metadata,
          rewardComponents: r.rewardComponents,
          stepCount: r.stepCount,
          episodeId: r.episodeId,
        },
      },
    }),
  );

const stepRequest: fc.Arbitrary<StepRequest> = fc
  .record({
    requestId: text,
    sessionId: text,
    typeUrl: text,
    value: fc.uint8Array({ maxLength: 64 }),
    timeout: fc.option(fc.record({ seconds: fc.bigInt({ min: 0n, max: 10n ** 12n }), nanos: fc.nat({ max: 999_999_999 }) }), {
      nil: undefined,
    }),
  })
  .map((r) =>
    create(StepRequestSchema, {
      requestId: r.requestId,
      sessionId: r.sessionId,
      command: { case: "action", value: { typeUrl: r.typeUrl, value: r.value } },
      timeout: r.timeout,
    }),
  );

describe("hand-written Step codecs agree with protobuf-es", () => {
  it("StepResponse with a result: ours → protobuf-es and protobuf-es → ours", () => {
    fc.assert(
      fc.property(stepResponse, (res) => {
        expect(equals(StepResponseSchema, fromBinary(StepResponseSchema, encodeStepResponse(res)), res)).toBe(true);
        expect(equals(StepResponseSchema, decodeStepResponse(toBinary(StepResponseSchema, res)), res)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("StepRequest with an action: ours → protobuf-es and protobuf-es → ours", () => {
    fc.assert(
      fc.property(stepRequest, (req) => {
        expect(equals(StepRequestSchema, fromBinary(StepRequestSchema, encodeStepRequest(req)), req)).toBe(true);
        expect(equals(StepRequestSchema, decodeStepRequest(toBinary(StepRequestSchema, req)), req)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("falls back to protobuf-es for the other shapes, and for unknown fields", () => {
    const reset = create(StepRequestSchema, { requestId: "r", command: { case: "reset", value: { seed: 3n } } });
    expect(equals(StepRequestSchema, decodeStepRequest(encodeStepRequest(reset)), reset)).toBe(true);
    const error = create(StepResponseSchema, { requestId: "e", kind: { case: "error", value: { code: 3, message: "bad" } } });
    expect(equals(StepResponseSchema, decodeStepResponse(encodeStepResponse(error)), error)).toBe(true);
    const withUnknown = Buffer.concat([toBinary(StepResponseSchema, error), Buffer.from([0xf8, 0x07, 0x01])]); // field 127 varint
    expect(decodeStepResponse(withUnknown).requestId).toBe("e");
  });

  it("adds the 5-byte stream envelope in front when asked", () => {
    const res = create(StepResponseSchema, { requestId: "x", kind: { case: "result", value: { stepCount: 1 } } });
    const plain = encodeStepResponse(res);
    const enveloped = encodeStepResponse(res, true);
    expect(enveloped[0]).toBe(0);
    expect(enveloped.readUInt32BE(1)).toBe(plain.length);
    expect(enveloped.subarray(5)).toEqual(plain);
  });

  it("never writes through a __proto__ key in metadata", () => {
    const res = create(StepResponseSchema, {
      kind: { case: "result", value: { metadata: JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject } },
    });
    const decoded = decodeStepResponse(encodeStepResponse(res));
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    const meta = decoded.kind.case === "result" ? decoded.kind.value.metadata : undefined;
    expect(Object.getOwnPropertyDescriptor(meta, "__proto__")?.value).toEqual({ polluted: true });
  });
});
