import { create, type DescMessage, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import { type Any, anyPack, type Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  StateResponseSchema,
  type StepResponse,
  StepResponseSchema,
  type StepResult,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { typeNameOf, typeUrlOf } from "../protocol/descriptors.js";
import { toStepError, validationError } from "../protocol/errors.js";
import { validateMessage } from "../protocol/validate.js";
import type { EnvironmentSpec } from "../server/environment.js";
import type { PartialRecord, StepRecord } from "./episode.js";
import type { Session } from "./session.js";

/**
 * The Step stream's messages, both ways: actions unpacked and validated from
 * their `Any`, and the session's records, states and errors as `StepResponse`
 * replies. The unary RPCs use the same conversions.
 */

/**
 * A type URL, remembered for the schema last asked about: a server serves one
 * environment, so this saves building (and, compared, flattening) a string per step.
 */
function urlCache(): (schema: DescMessage) => string {
  let last: DescMessage | undefined;
  let url = "";
  return (schema) => {
    if (schema !== last) {
      last = schema;
      url = typeUrlOf(schema);
    }
    return url;
  };
}
const actionUrl = urlCache();
const observationUrl = urlCache();

/** The answer to one Step request: `StepResponse.kind`. */
export type Reply = StepResponse["kind"];

/** A step's or reset's record as a reply. */
export function resultReply(spec: EnvironmentSpec, record: StepRecord): Reply {
  return { case: "result", value: toStepResult(spec, record) };
}

/** An error as an in-band reply (the stream goes on). */
export function errorReply(err: unknown): Reply {
  return { case: "error", value: toStepError(ConnectError.from(err, Code.Internal)) };
}

/** The session's state as a reply, once read. */
export function stateReply(spec: EnvironmentSpec, session: Session): Promise<Reply> {
  return session.state().then((state): Reply => ({ case: "state", value: stateResponse(spec, session, state) }), errorReply);
}

/** The `StateResponse` of a session whose state was read. */
export function stateResponse(spec: EnvironmentSpec, session: Session, state: Message) {
  return create(StateResponseSchema, {
    sessionId: session.id,
    state: anyPack(spec.state, state),
    episodeId: session.episodeId,
    stepCount: session.stepCount,
  });
}

/** A partial observation of the step with this request id. */
export function partialResponse(spec: EnvironmentSpec, requestId: string, sessionId: string, p: PartialRecord): StepResponse {
  return create(StepResponseSchema, {
    requestId,
    sessionId,
    kind: { case: "partial", value: { observation: anyPack(spec.partial ?? spec.observation, p.observation), progress: p.progress } },
  });
}

/** Encodes a step record as the wire `StepResult`. */
export function toStepResult(spec: EnvironmentSpec, record: StepRecord): StepResult {
  // Complete message literals: create() would copy them field by field on the hot path.
  return {
    $typeName: "openenv.v1.StepResult",
    observation: {
      $typeName: "google.protobuf.Any",
      typeUrl: observationUrl(spec.observation),
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
  // The usual URL is compared whole; any other prefix is accepted as long as it names the type.
  if (any.typeUrl !== actionUrl(schema)) {
    const got = typeNameOf(any.typeUrl);
    if (got !== schema.typeName) {
      throw new ConnectError(`${field}: expected type ${schema.typeName}, got '${got === "" ? any.typeUrl : got}'`, Code.InvalidArgument);
    }
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
