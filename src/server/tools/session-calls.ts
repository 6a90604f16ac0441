import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type CallToolObservation, ToolActionSchema, type ToolObservation } from "../../../gen/openenv/v1/tools_pb.js";
import type { Session, StepArgs, StepRecord } from "../../core/session.js";
import { stepStarted } from "../../openenv/server/context.js";

/** A tool call made as a step of a session, and that step. */
export interface SessionToolCall {
  readonly observation: CallToolObservation;
  readonly record: StepRecord;
}

/**
 * Calls a tool through a session, as a step (its rewards, step count, deadline
 * and queue apply), starting an episode first when the session has none: the
 * MCP surfaces (OpenEnv's JSON-RPC, Streamable HTTP) open sessions without a
 * reset, as OpenEnv does.
 */
export async function callToolInSession(
  session: Session,
  toolName: string,
  args: JsonObject,
  stepArgs: StepArgs = {},
): Promise<SessionToolCall> {
  const action = create(ToolActionSchema, { kind: { case: "callTool", value: { toolName, arguments: args } } });
  const record = await stepStarted(session, action, stepArgs);
  const observation = record.observation as ToolObservation;
  if (observation.kind.case !== "callTool") {
    throw new ConnectError("the environment answered a tool call without a tool result", Code.Internal);
  }
  return { observation: observation.kind.value, record };
}
