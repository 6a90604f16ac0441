import {
  create,
  type DescField,
  type DescMessage,
  equals,
  fromBinary,
  type JsonObject,
  type MessageInitShape,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { StepRequestSchema, StepResponseSchema, StepResultSchema } from "../../gen/openenv/v1/environment_service_pb.js";
import { encodeStepRequest, encodeStepResponse, stepCodecCoverage } from "./step-codec.js";

// Every value below is generated from the messages' descriptors: a field added to the
// contract is generated too, so an encoder that does not write it fails these tests.

const text = fc.string({ unit: "grapheme", maxLength: 20 });
/** protobuf-es cannot hold a `__proto__` map key (it would set the map object's prototype). */
const mapKey = text.filter((k) => k !== "__proto__");

function scalar(t: ScalarType): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.STRING:
      return text;
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 24 });
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.DOUBLE:
      return fc.double({ noNaN: true });
    case ScalarType.FLOAT:
      return fc.float({ noNaN: true }).map(Math.fround);
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.integer();
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.nat({ max: 0xffffffff });
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
    default:
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  }
}

const json = fc.jsonValue({ maxDepth: 2 });
const jsonObject = fc.dictionary(mapKey, json, { maxKeys: 4 }) as fc.Arbitrary<JsonObject>;

/** A value of a singular field (or of one element of a list). */
function single(field: DescField, depth: number): fc.Arbitrary<unknown> {
  if (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) return scalar(field.scalar);
  if (field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum")) {
    return fc.constantFrom(...field.enum.values.map((v) => v.number));
  }
  const message = field.message as DescMessage;
  switch (message.typeName) {
    case "google.protobuf.Struct":
      return jsonObject;
    case "google.protobuf.Value":
      return json;
    case "google.protobuf.ListValue":
      return fc.array(json, { maxLength: 3 });
  }
  return messageInit(message, depth + 1);
}

function fieldValue(field: DescField, depth: number): fc.Arbitrary<unknown> {
  if (field.fieldKind === "list") return fc.array(single(field, depth), { maxLength: 3 });
  if (field.fieldKind === "map") {
    const value =
      field.mapKind === "scalar"
        ? scalar(field.scalar)
        : field.mapKind === "enum"
          ? fc.constantFrom(...field.enum.values.map((v) => v.number))
          : messageInit(field.message, depth + 1);
    return fc.dictionary(field.mapKey === ScalarType.STRING ? mapKey : fc.nat().map(String), value, { maxKeys: 3 });
  }
  return single(field, depth);
}

/**
 * Any init of a message: each field set or left out, one case (or none) of each oneof.
 * `only` restricts the fields (and oneof cases) that may be set, by name.
 */
function messageInit(schema: DescMessage, depth = 0, only?: (f: DescField) => boolean): fc.Arbitrary<Record<string, unknown>> {
  if (depth > 3) return fc.constant({});
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const member of schema.members) {
    if (member.kind === "oneof") {
      const cases = member.fields.filter((f) => only === undefined || only(f));
      parts[member.localName] = fc.oneof(
        fc.constant(undefined),
        ...cases.map((f) => fieldValue(f, depth).map((value) => ({ case: f.localName, value }))),
      );
    } else if (only === undefined || only(member)) {
      parts[member.localName] = fc.option(fieldValue(member, depth), { nil: undefined });
    }
  }
  return fc.record(parts);
}

/** A StepResponse whose kind is a result (the hand-encoded shape), any field of either message set. */
const resultResponse = fc
  .tuple(
    messageInit(StepResponseSchema, 0, (f) => f.oneof === undefined),
    messageInit(StepResultSchema, 1),
  )
  .map(([res, result]) =>
    create(StepResponseSchema, { ...res, kind: { case: "result", value: result } } as MessageInitShape<typeof StepResponseSchema>),
  );

/** A StepRequest carrying an action (the hand-encoded shape). */
const actionRequest = messageInit(StepRequestSchema, 0, (f) => f.oneof === undefined || f.localName === "action")
  .filter((r) => (r.command as { case?: string } | undefined)?.case === "action")
  .map((r) => create(StepRequestSchema, r as MessageInitShape<typeof StepRequestSchema>));

/** Any StepResponse or StepRequest, every oneof case included (what the encoders hand to protobuf-es). */
const anyResponse = messageInit(StepResponseSchema).map((r) =>
  create(StepResponseSchema, r as MessageInitShape<typeof StepResponseSchema>),
);
const anyRequest = messageInit(StepRequestSchema).map((r) => create(StepRequestSchema, r as MessageInitShape<typeof StepRequestSchema>));

describe("the Step encoders", () => {
  it("write every field the contract defines (else they hand the message to protobuf-es)", () => {
    expect(stepCodecCoverage()).toEqual([]);
  });

  it("write a StepResponse with a result exactly as protobuf-es reads it, with every field of StepResult", () => {
    fc.assert(
      fc.property(resultResponse, (res) => {
        expect(equals(StepResponseSchema, fromBinary(StepResponseSchema, encodeStepResponse(res)), res)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("write a StepRequest with an action exactly as protobuf-es reads it", () => {
    fc.assert(
      fc.property(actionRequest, (req) => {
        expect(equals(StepRequestSchema, fromBinary(StepRequestSchema, encodeStepRequest(req)), req)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("write the other shapes through protobuf-es", () => {
    fc.assert(
      fc.property(anyResponse, anyRequest, (res, req) => {
        expect(equals(StepResponseSchema, fromBinary(StepResponseSchema, encodeStepResponse(res)), res)).toBe(true);
        expect(equals(StepRequestSchema, fromBinary(StepRequestSchema, encodeStepRequest(req)), req)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("set every field of StepResult, one at a time", () => {
    for (const field of StepResultSchema.fields) {
      fc.assert(
        fc.property(fieldValue(field, 1), (value) => {
          const res = create(StepResponseSchema, { kind: { case: "result", value: { [field.localName]: value } } });
          const decoded = fromBinary(StepResponseSchema, encodeStepResponse(res));
          expect(equals(StepResponseSchema, decoded, res), field.name).toBe(true);
        }),
        { numRuns: 50 },
      );
    }
  });

  it("put the 5-byte stream envelope in front when asked", () => {
    const res = create(StepResponseSchema, { requestId: "x", kind: { case: "result", value: { stepCount: 1 } } });
    const plain = encodeStepResponse(res);
    const enveloped = encodeStepResponse(res, true);
    expect(enveloped[0]).toBe(0);
    expect(new DataView(enveloped.buffer, enveloped.byteOffset).getUint32(1)).toBe(plain.length);
    expect(enveloped.subarray(5)).toEqual(plain);
    expect(toBinary(StepResponseSchema, res)).toEqual(new Uint8Array(plain));
  });

  it("write a metadata key `__proto__` as data, without touching any prototype", () => {
    const res = create(StepResponseSchema, {
      kind: { case: "result", value: { metadata: JSON.parse('{"__proto__": {"polluted": true}}') as JsonObject } },
    });
    const decoded = fromBinary(StepResponseSchema, encodeStepResponse(res));
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    const meta = decoded.kind.case === "result" ? decoded.kind.value.metadata : undefined;
    expect(Object.getOwnPropertyDescriptor(meta, "__proto__")?.value).toEqual({ polluted: true });
  });
});
