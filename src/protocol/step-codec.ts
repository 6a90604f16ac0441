/**
 * Hand-written codecs for the two messages of the Step hot path: a StepRequest
 * carrying an action and a StepResponse carrying a result. Every other shape
 * falls back to protobuf-es. The output is ordinary protobuf: tests check that
 * protobuf-es decodes it to the same message, and the other way round.
 */
import { fromBinary, type JsonObject, type JsonValue, toBinary } from "@bufbuild/protobuf";
import type { Any, Duration } from "@bufbuild/protobuf/wkt";
import {
  type StepRequest,
  StepRequestSchema,
  type StepResponse,
  StepResponseSchema,
  type StepResult,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { ProtoReader, ProtoWriter, WIRE_I64, WIRE_LEN, WIRE_VARINT } from "./wire.js";

const ENVELOPE = 5;
const shared = new ProtoWriter(64 * 1024);

function finish(w: ProtoWriter, envelope: boolean): Buffer {
  if (envelope) {
    w.buf[0] = 0;
    w.buf.writeUInt32BE(w.pos - ENVELOPE, 1);
  }
  return w.take();
}

function fallback(bytes: Uint8Array, envelope: boolean): Buffer {
  if (!envelope) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = Buffer.allocUnsafe(ENVELOPE + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, ENVELOPE);
  return out;
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

/** Assigns without ever touching a prototype, whatever the key (`__proto__` included). */
function assign(obj: JsonObject, key: string, value: JsonValue): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

function readStruct(buf: Uint8Array, start: number, end: number): JsonObject {
  const r = new ProtoReader(buf, start, end);
  const out: JsonObject = {};
  while (!r.done) {
    const [field, wt] = r.tag();
    if (field !== 1 || wt !== WIRE_LEN) {
      r.skip(wt);
      continue;
    }
    const [s, e] = r.delimited();
    const entry = new ProtoReader(buf, s, e);
    let key = "";
    let value: JsonValue = null;
    while (!entry.done) {
      const [f, t] = entry.tag();
      if (f === 1 && t === WIRE_LEN) key = entry.string(true);
      else if (f === 2 && t === WIRE_LEN) {
        const [vs, ve] = entry.delimited();
        value = readValue(buf, vs, ve);
      } else entry.skip(t);
    }
    assign(out, key, value);
  }
  return out;
}

function readValue(buf: Uint8Array, start: number, end: number): JsonValue {
  const r = new ProtoReader(buf, start, end);
  let value: JsonValue = null;
  while (!r.done) {
    const [field, wt] = r.tag();
    if (field === 1 && wt === WIRE_VARINT) {
      r.varint();
      value = null;
    } else if (field === 2 && wt === WIRE_I64) value = r.double();
    else if (field === 3 && wt === WIRE_LEN) value = r.string();
    else if (field === 4 && wt === WIRE_VARINT) value = r.varint() !== 0;
    else if (field === 5 && wt === WIRE_LEN) {
      const [s, e] = r.delimited();
      value = readStruct(buf, s, e);
    } else if (field === 6 && wt === WIRE_LEN) {
      const [s, e] = r.delimited();
      const list = new ProtoReader(buf, s, e);
      const items: JsonValue[] = [];
      while (!list.done) {
        const [f, t] = list.tag();
        if (f === 1 && t === WIRE_LEN) {
          const [is, ie] = list.delimited();
          items.push(readValue(buf, is, ie));
        } else list.skip(t);
      }
      value = items;
    } else r.skip(wt);
  }
  return value;
}

// ---- StepResponse ----

/** Encodes a StepResponse (optionally with the 5-byte stream envelope in front). */
export function encodeStepResponse(res: StepResponse, envelope = false): Buffer {
  if (res.kind.case !== "result") return fallback(toBinary(StepResponseSchema, res), envelope);
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

function readAny(buf: Uint8Array, start: number, end: number): Any {
  const r = new ProtoReader(buf, start, end);
  let typeUrl = "";
  let value: Uint8Array = new Uint8Array(0);
  while (!r.done) {
    const [f, t] = r.tag();
    if (f === 1 && t === WIRE_LEN) typeUrl = r.string(true);
    else if (f === 2 && t === WIRE_LEN) value = r.bytes();
    else r.skip(t);
  }
  return { $typeName: "google.protobuf.Any", typeUrl, value };
}

/** Thrown inside the fast decoders when a message needs protobuf-es. */
class NeedsFallback extends Error {}

function readStepResult(buf: Uint8Array, start: number, end: number): StepResult {
  const r = new ProtoReader(buf, start, end);
  const out: StepResult = {
    $typeName: "openenv.v1.StepResult",
    observation: undefined,
    reward: undefined,
    done: false,
    terminated: false,
    truncated: false,
    metadata: undefined,
    rewardComponents: {},
    stepCount: 0,
    episodeId: "",
  };
  while (!r.done) {
    const [field, wt] = r.tag();
    switch (field) {
      case 1: {
        if (wt !== WIRE_LEN) throw new NeedsFallback();
        const [s, e] = r.delimited();
        out.observation = readAny(buf, s, e);
        break;
      }
      case 2:
        if (wt !== WIRE_I64) throw new NeedsFallback();
        out.reward = r.double();
        break;
      case 3:
      case 4:
      case 5: {
        if (wt !== WIRE_VARINT) throw new NeedsFallback();
        const v = r.varint() !== 0;
        if (field === 3) out.done = v;
        else if (field === 4) out.terminated = v;
        else out.truncated = v;
        break;
      }
      case 6: {
        if (wt !== WIRE_LEN) throw new NeedsFallback();
        const [s, e] = r.delimited();
        out.metadata = readStruct(buf, s, e);
        break;
      }
      case 7: {
        if (wt !== WIRE_LEN) throw new NeedsFallback();
        const [s, e] = r.delimited();
        const entry = new ProtoReader(buf, s, e);
        let key = "";
        let value = 0;
        while (!entry.done) {
          const [f, t] = entry.tag();
          if (f === 1 && t === WIRE_LEN) key = entry.string();
          else if (f === 2 && t === WIRE_I64) value = entry.double();
          else entry.skip(t);
        }
        assign(out.rewardComponents as unknown as JsonObject, key, value);
        break;
      }
      case 8:
        if (wt !== WIRE_VARINT) throw new NeedsFallback();
        out.stepCount = r.varint() >>> 0;
        break;
      case 9:
        if (wt !== WIRE_LEN) throw new NeedsFallback();
        out.episodeId = r.string(true);
        break;
      default:
        throw new NeedsFallback(); // unknown fields: let protobuf-es keep them
    }
  }
  return out;
}

/** Decodes a StepResponse. */
export function decodeStepResponse(bytes: Uint8Array): StepResponse {
  try {
    const r = new ProtoReader(bytes);
    let requestId = "";
    let sessionId = "";
    let replayed = false;
    let result: StepResult | undefined;
    while (!r.done) {
      const [field, wt] = r.tag();
      if (field === 1 && wt === WIRE_LEN) requestId = r.string();
      else if (field === 2 && wt === WIRE_LEN) sessionId = r.string(true);
      else if (field === 3 && wt === WIRE_LEN) {
        const [s, e] = r.delimited();
        result = readStepResult(bytes, s, e);
      } else if (field === 7 && wt === WIRE_VARINT) replayed = r.varint() !== 0;
      else throw new NeedsFallback();
    }
    return {
      $typeName: "openenv.v1.StepResponse",
      requestId,
      sessionId,
      kind: result === undefined ? { case: undefined } : { case: "result", value: result },
      replayed,
    };
  } catch {
    // A shape the fast decoder leaves to protobuf-es, or malformed input (protobuf-es then throws its usual error).
    return fromBinary(StepResponseSchema, bytes);
  }
}

// ---- StepRequest ----

/** Encodes a StepRequest carrying an action (optionally enveloped). */
export function encodeActionRequest(
  requestId: string,
  sessionId: string,
  action: Any,
  timeout: Duration | undefined,
  envelope = false,
): Buffer {
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
export function encodeStepRequest(req: StepRequest, envelope = false): Buffer {
  const timeoutOk = req.timeout === undefined || (req.timeout.seconds >= 0n && req.timeout.nanos >= 0);
  if (req.command.case === "action" && timeoutOk) {
    return encodeActionRequest(req.requestId, req.sessionId, req.command.value, req.timeout, envelope);
  }
  return fallback(toBinary(StepRequestSchema, req), envelope);
}

/** Decodes a StepRequest: the action shape by hand, the rest with protobuf-es. */
export function decodeStepRequest(bytes: Uint8Array): StepRequest {
  try {
    const r = new ProtoReader(bytes);
    let requestId = "";
    let sessionId = "";
    let action: Any | undefined;
    let timeout: Duration | undefined;
    while (!r.done) {
      const [field, wt] = r.tag();
      if (field === 1 && wt === WIRE_LEN) requestId = r.string();
      else if (field === 2 && wt === WIRE_LEN) sessionId = r.string(true);
      else if (field === 3 && wt === WIRE_LEN) {
        const [s, e] = r.delimited();
        action = readAny(bytes, s, e);
      } else if (field === 6 && wt === WIRE_LEN) {
        const [s, e] = r.delimited();
        const d = new ProtoReader(bytes, s, e);
        let seconds = 0;
        let nanos = 0;
        while (!d.done) {
          const [f, t] = d.tag();
          if (f === 1 && t === WIRE_VARINT) seconds = d.varint();
          else if (f === 2 && t === WIRE_VARINT) nanos = d.varint();
          else throw new NeedsFallback();
        }
        if (seconds > Number.MAX_SAFE_INTEGER || nanos > 0x7fffffff) throw new NeedsFallback();
        timeout = { $typeName: "google.protobuf.Duration", seconds: BigInt(seconds), nanos };
      } else throw new NeedsFallback();
    }
    return {
      $typeName: "openenv.v1.StepRequest",
      requestId,
      sessionId,
      command: action === undefined ? { case: undefined } : { case: "action", value: action },
      timeout,
    };
  } catch {
    return fromBinary(StepRequestSchema, bytes);
  }
}
