import { create } from "@bufbuild/protobuf";
import { type Any, anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  CapacityInfoSchema,
  SessionLostSchema,
  type StepError,
  StepErrorSchema,
  ValidationErrorsSchema,
} from "../../gen/openenv/v1/environment_service_pb.js";
import type { FieldViolation } from "./validate.js";

/** Sessions open and allowed, as carried by a RESOURCE_EXHAUSTED capacity error. */
export interface Capacity {
  readonly activeSessions: number;
  readonly maxSessions: number;
}

/** OpenEnv's capacity message, word for word, so existing tooling matches it. */
export function capacityMessage(c: Capacity): string {
  return `Server at capacity: ${c.activeSessions}/${c.maxSessions} sessions active. Cannot accept new connections.`;
}

/** RESOURCE_EXHAUSTED with a `CapacityInfo` detail. */
export function capacityError(c: Capacity): ConnectError {
  return new ConnectError(capacityMessage(c), Code.ResourceExhausted, undefined, [
    { desc: CapacityInfoSchema, value: { activeSessions: c.activeSessions, maxSessions: c.maxSessions } },
  ]);
}

/** Reads the capacity detail of an error, if it has one. */
export function findCapacity(err: ConnectError): Capacity | undefined {
  const [info] = err.findDetails(CapacityInfoSchema);
  return info === undefined ? undefined : { activeSessions: info.activeSessions, maxSessions: info.maxSessions };
}

/** A lost session, as carried by a NOT_FOUND error's `SessionLost` detail. */
export interface SessionLostInfo {
  readonly sessionId: string;
  /** The process that held it: a replica id, or `worker N`. */
  readonly holder: string;
}

/** NOT_FOUND with a `SessionLost` detail: the session ended with the process that held it. */
export function sessionLostError(info: SessionLostInfo, message: string): ConnectError {
  return new ConnectError(message, Code.NotFound, undefined, [
    { desc: SessionLostSchema, value: { sessionId: info.sessionId, holder: info.holder } },
  ]);
}

/** Reads the lost-session detail of an error, if it has one. */
export function findSessionLost(err: ConnectError): SessionLostInfo | undefined {
  const [info] = err.findDetails(SessionLostSchema);
  return info === undefined ? undefined : { sessionId: info.sessionId, holder: info.holder };
}

/** INVALID_ARGUMENT naming every violated field, with a `ValidationErrors` detail. */
export function validationError(what: string, violations: readonly FieldViolation[]): ConnectError {
  const message = `invalid ${what}: ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`;
  return new ConnectError(message, Code.InvalidArgument, undefined, [
    {
      desc: ValidationErrorsSchema,
      value: { violations: violations.map((v) => ({ field: v.field, description: v.description, rule: v.rule })) },
    },
  ]);
}

/** Encodes a ConnectError as the in-band error of a Step reply. */
export function toStepError(err: ConnectError): StepError {
  const details: Any[] = [];
  for (const d of err.details) {
    if ("desc" in d) {
      details.push(anyPack(d.desc, create(d.desc, d.value)));
    } else {
      details.push({ $typeName: "google.protobuf.Any", typeUrl: `type.googleapis.com/${d.type}`, value: d.value });
    }
  }
  return create(StepErrorSchema, { code: err.code, message: err.rawMessage, details });
}

/** Decodes the in-band error of a Step reply into a ConnectError the caller can inspect. */
export function fromStepError(e: StepError): ConnectError {
  const code = e.code in Code ? (e.code as Code) : Code.Unknown;
  const err = new ConnectError(e.message, code);
  for (const d of e.details) err.details.push({ type: d.typeUrl.slice(d.typeUrl.lastIndexOf("/") + 1), value: d.value });
  return err;
}
