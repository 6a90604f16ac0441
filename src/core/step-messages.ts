import { type DescMessage, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import type { Any, Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { StepResult } from "../../gen/openenv/v1/environment_service_pb.js";
import { typeNameOf, typeUrlOf } from "../protocol/descriptors.js";
import { validationError } from "../protocol/errors.js";
import { validateMessage } from "../protocol/validate.js";
import type { EnvironmentSpec } from "../server/environment.js";
import type { StepRecord } from "./session.js";

/** Encodes a step record as the wire `StepResult`. */
export function toStepResult(spec: EnvironmentSpec, record: StepRecord): StepResult {
  // Complete message literals: create() would copy them field by field on the hot path.
  return {
    $typeName: "openenv.v1.StepResult",
    observation: {
      $typeName: "google.protobuf.Any",
      typeUrl: typeUrlOf(spec.observation),
      value: toBinary(spec.observation, record.observation),
    },
    reward: record.reward,
    done: record.done,
    terminated: record.terminated,
    truncated: record.truncated,
    metadata: record.metadata,
    rewardComponents: { ...record.rewardComponents },
    stepCount: record.stepCount,
    episodeId: record.episodeId,
  };
}

/**
 * Unpacks and validates an action: INVALID_ARGUMENT naming the expected type when
 * the `Any` holds another type or cannot be decoded, or naming each field that
 * breaks a rule.
 */
export function decodeAction(spec: EnvironmentSpec, any: Any | undefined, field = "action"): Message {
  const schema: DescMessage = spec.action;
  if (any === undefined) {
    throw new ConnectError(`${field} is required: a google.protobuf.Any holding ${schema.typeName}`, Code.InvalidArgument);
  }
  const got = typeNameOf(any.typeUrl);
  if (got !== schema.typeName) {
    throw new ConnectError(`${field}: expected type ${schema.typeName}, got '${got === "" ? any.typeUrl : got}'`, Code.InvalidArgument);
  }
  let action: Message;
  try {
    action = fromBinary(schema, any.value);
  } catch (err) {
    throw new ConnectError(
      `${field}: cannot decode ${schema.typeName}: ${err instanceof Error ? err.message : String(err)}`,
      Code.InvalidArgument,
    );
  }
  const violations = validateMessage(schema, action);
  if (violations.length > 0) throw validationError(field, violations);
  return action;
}

/** A `google.protobuf.Duration` in milliseconds; undefined when unset. */
export function durationMs(d: Duration | undefined): number | undefined {
  if (d === undefined) return undefined;
  const ms = Number(d.seconds) * 1000 + d.nanos / 1e6;
  if (!(ms > 0)) throw new ConnectError("timeout must be positive", Code.InvalidArgument);
  return ms;
}

/** Milliseconds as a `google.protobuf.Duration`. */
export function msDuration(ms: number): Duration {
  const seconds = Math.floor(ms / 1000);
  return { $typeName: "google.protobuf.Duration", seconds: BigInt(seconds), nanos: Math.round((ms - seconds * 1000) * 1e6) };
}
