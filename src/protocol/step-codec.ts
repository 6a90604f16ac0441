/**
 * Hand-written encoders for the two messages of the Step hot path: a
 * StepRequest carrying an action (the client's) and a StepResponse carrying a
 * result (the server's). Every other shape, and all decoding, is protobuf-es's.
 * Encoding is where the hand code still earns its place on protobuf-es 2.17
 * (`npx tsx bench/micro-step.ts --codecs`: about 4x faster for a result, 8x for
 * an action request); decoding was within 0.5 µs and went back to protobuf-es.
 *
 * The encoders know the fields below by number. When the contract gains a
 * field they do not write, {@link stepCodecCoverage} turns them off (protobuf-es
 * encodes instead, nothing is dropped) and step-codec.spec.ts, which walks the
 * messages' descriptors, fails until the encoder writes the new field.
 */
import { type DescMessage, type JsonObject, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { type Any, AnySchema, type Duration, DurationSchema } from "@bufbuild/protobuf/wkt";
import {
  type StepRequest,
  StepRequestSchema,
  type StepResponse,
  StepResponseSchema,
  StepResultSchema,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { ProtoWriter, WIRE_VARINT } from "./proto-writer.js";
import { envelope as withEnvelope } from "./step-wire.js";

/** The field numbers each hand encoder writes (the oneof cases it does not handle go to protobuf-es). */
const HANDLED: ReadonlyArray<readonly [DescMessage, readonly number[]]> = [
  [StepResponseSchema, [1, 2, 3, 4, 5, 6, 7]],
  [StepResultSchema, [1, 2, 3, 4, 5, 6, 7, 8, 9]],
  [StepRequestSchema, [1, 2, 3, 4, 5, 6]],
  [AnySchema, [1, 2]],
  [DurationSchema, [1, 2]],
];

/** The fields of these messages that the hand encoders do not write; empty when they cover the contract. */
export function stepCodecCoverage(): { message: string; field: string }[] {
  const missing: { message: string; field: string }[] = [];
  for (const [schema, numbers] of HANDLED) {
    for (const f of schema.fields) if (!numbers.includes(f.number)) missing.push({ message: schema.typeName, field: f.name });
  }
  return missing;
}

/** False once the contract has a field the hand encoders would drop. */
const enabled = stepCodecCoverage().length === 0;

const ENVELOPE = 5;
/** google.protobuf.Duration's range: 10,000 years. */
const MAX_DURATION_SECONDS = 315_576_000_000n;
const shared = new ProtoWriter(64 * 1024);

function finish(w: ProtoWriter, envelope: boolean): Buffer {
  if (envelope) {
    w.buf[0] = 0;
    w.buf.writeUInt32BE(w.pos - ENVELOPE, 1);
  }
  return w.take();
}

function fallback(bytes: Uint8Array, envelope: boolean): Uint8Array {
  return envelope ? withEnvelope(bytes) : bytes;
}

// ---- Struct (google.protobuf.Struct / Value / ListValue) ----

function writeStruct(w: ProtoWriter, obj: JsonObject): void {
  for (const key in obj) {
    const value = obj[key];
    if (value === undefined) continue;
    const entry = w.begin(1);
    w.string(1, key, true);
    const v = w.begin(2);
    writeValue(w, value);
    w.end(v);
    w.end(entry);
  }
}

function writeValue(w: ProtoWriter, value: JsonValue): void {
  if (value === null) {
    w.tag(1, WIRE_VARINT);
    w.varint(0);
    return;
  }
  switch (typeof value) {
    case "number":
      w.double(2, value);
      return;
    case "string":
      w.string(3, value);
      return;
    case "boolean":
      w.bool(4, value);
      return;
    default:
      if (Array.isArray(value)) {
        const list = w.begin(6);
        for (const item of value) {
          const v = w.begin(1);
          writeValue(w, item);
          w.end(v);
        }
        w.end(list);
      } else {
        const s = w.begin(5);
        writeStruct(w, value as JsonObject);
        w.end(s);
      }
  }
}

// ---- StepResponse ----

/** Encodes a StepResponse (optionally with the 5-byte stream envelope in front). */
export function encodeStepResponse(res: StepResponse, envelope = false): Uint8Array {
  if (!enabled || res.kind.case !== "result") return fallback(toBinary(StepResponseSchema, res), envelope);
  const w = shared.reset(envelope ? ENVELOPE : 0);
  if (res.requestId !== "") w.string(1, res.requestId);
  if (res.sessionId !== "") w.string(2, res.sessionId, true);
  const r = res.kind.value;
  const at = w.begin(3);
  if (r.observation !== undefined) {
    const a = w.begin(1);
    if (r.observation.typeUrl !== "") w.string(1, r.observation.typeUrl, true);
    if (r.observation.value.length > 0) w.bytes(2, r.observation.value);
    w.end(a);
  }
  if (r.reward !== undefined) w.double(2, r.reward);
  if (r.done) w.bool(3, true);
  if (r.terminated) w.bool(4, true);
  if (r.truncated) w.bool(5, true);
  if (r.metadata !== undefined) {
    const m = w.begin(6);
    writeStruct(w, r.metadata);
    w.end(m);
  }
  for (const key in r.rewardComponents) {
    const e = w.begin(7);
    w.string(1, key);
    w.double(2, r.rewardComponents[key] as number);
    w.end(e);
  }
  if (r.stepCount !== 0) {
    w.tag(8, WIRE_VARINT);
    w.varint(r.stepCount);
  }
  if (r.episodeId !== "") w.string(9, r.episodeId, true);
  w.end(at);
  if (res.replayed) w.bool(7, true);
  return finish(w, envelope);
}

// ---- StepRequest ----

function encodeActionRequest(requestId: string, sessionId: string, action: Any, timeout: Duration | undefined, envelope = false): Buffer {
  const w = shared.reset(envelope ? ENVELOPE : 0);
  if (requestId !== "") w.string(1, requestId);
  if (sessionId !== "") w.string(2, sessionId, true);
  const a = w.begin(3);
  if (action.typeUrl !== "") w.string(1, action.typeUrl, true);
  if (action.value.length > 0) w.bytes(2, action.value);
  w.end(a);
  if (timeout !== undefined) {
    const d = w.begin(6);
    if (timeout.seconds !== 0n) {
      w.tag(1, WIRE_VARINT);
      w.varint(Number(timeout.seconds));
    }
    if (timeout.nanos !== 0) {
      w.tag(2, WIRE_VARINT);
      w.varint(timeout.nanos);
    }
    w.end(d);
  }
  return finish(w, envelope);
}

/** Encodes any StepRequest: the action shape by hand, the rest with protobuf-es. */
export function encodeStepRequest(req: StepRequest, envelope = false): Uint8Array {
  // Negative or out-of-range durations (the varint writer takes safe integers) go to protobuf-es.
  const t = req.timeout;
  const timeoutOk = t === undefined || (t.seconds >= 0n && t.seconds <= MAX_DURATION_SECONDS && t.nanos >= 0);
  if (enabled && req.command.case === "action" && timeoutOk) {
    return encodeActionRequest(req.requestId, req.sessionId, req.command.value, req.timeout, envelope);
  }
  return fallback(toBinary(StepRequestSchema, req), envelope);
}
