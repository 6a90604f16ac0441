import {
  create,
  createRegistry,
  type DescMessage,
  isMessage,
  type JsonObject,
  type JsonValue,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type CallToolObservation,
  type Tool,
  type ToolAction,
  ToolActionSchema,
  type ToolContent,
  type ToolObservation,
} from "../../gen/openenv/v1/tools_pb.js";
import { decodeOpenEnvJson } from "../openenv/json/decode.js";
import { encodeOpenEnvJson } from "../openenv/json/encode.js";
import { toolErrorName, valueJson } from "../openenv/json/tools.js";
import type { ToolErrorKind } from "../server/tools/define.js";
import type { EnvStepResult } from "./backend.js";

/** A tool a typed client can call: a tool declared with `defineTool` (its name and message types). */
export interface ToolRef<
  I extends DescMessage | undefined = DescMessage | undefined,
  O extends DescMessage | undefined = DescMessage | undefined,
> {
  readonly name: string;
  readonly input: I;
  readonly output: O;
}

/** The outcome of {@link EnvClient.callTool}: the tool's result (or why it failed) and the step it was. */
export interface ToolCallResult<O extends DescMessage | undefined = undefined> {
  /** The tool that was called. */
  readonly toolName: string;
  /** The result's content blocks. */
  readonly content: readonly ToolContent[];
  /** The text of the text blocks, joined with newlines. */
  readonly text: string;
  /** The structured result (MCP's structuredContent). */
  readonly structuredContent: JsonObject | undefined;
  /** The value the tool returned (FastMCP's `data`). */
  readonly data: JsonValue;
  /** The tool reported an error of its own (the content says which). */
  readonly isError: boolean;
  /** Set when the call failed around the tool: OpenEnv's ToolError type and message. */
  readonly error: { readonly type: ToolErrorKind; readonly message: string } | undefined;
  /** The typed result, for a typed call of a tool with an output message. */
  readonly output: O extends DescMessage ? MessageShape<O> | undefined : undefined;
  /** The step: reward, done, terminated, truncated, metadata, step count. */
  readonly step: EnvStepResult;
}

/** The action that lists the tools. */
export function listToolsAction(): ToolAction {
  return create(ToolActionSchema, { kind: { case: "listTools", value: {} } });
}

/**
 * The action that calls a tool. Typed arguments of a proto tool travel as the
 * tool's message (`typed_arguments`) on the binary transports, as its JSON on
 * OpenEnv's JSON transports (where an OpenEnv server expects a JSON object).
 */
export function callToolAction(
  tool: string | ToolRef,
  args: JsonObject | MessageInitShape<DescMessage> | undefined,
  options: { readonly binary: boolean; readonly timeoutS?: number },
): ToolAction {
  const name = typeof tool === "string" ? tool : tool.name;
  const input = typeof tool === "string" ? undefined : tool.input;
  let call: MessageInitShape<typeof ToolActionSchema>["kind"];
  if (input === undefined) {
    if (isMessage(args))
      throw new ConnectError(`tool '${name}': pass a JSON object, or the tool's definition to send a message`, Code.InvalidArgument);
    call = { case: "callTool", value: { toolName: name, arguments: (args ?? {}) as JsonObject, timeoutS: options.timeoutS } };
  } else {
    const message = isMessage(args, input) ? args : create(input, (args ?? {}) as MessageInitShape<DescMessage>);
    call = options.binary
      ? { case: "callTool", value: { toolName: name, typedArguments: anyPack(input, message), timeoutS: options.timeoutS } }
      : { case: "callTool", value: { toolName: name, arguments: encodeOpenEnvJson(input, message), timeoutS: options.timeoutS } };
  }
  return create(ToolActionSchema, { kind: call });
}

/** The tools listed by a list_tools step. */
export function toolsFrom(observation: ToolObservation): Tool[] {
  if (observation.kind.case !== "listTools") {
    throw new ConnectError("the environment did not answer list_tools with a tool list", Code.Internal);
  }
  return observation.kind.value.tools;
}

/** A call_tool step as a {@link ToolCallResult}, decoding the typed result when the tool declares an output message. */
export function toolCallResult<O extends DescMessage | undefined>(
  step: EnvStepResult,
  tool: string | ToolRef<DescMessage | undefined, O>,
): ToolCallResult<O> {
  const observation = step.observation as ToolObservation;
  if (observation.kind.case !== "callTool") {
    throw new ConnectError("the environment did not answer call_tool with a tool result", Code.Internal);
  }
  const call: CallToolObservation = observation.kind.value;
  const result = call.result;
  const content = result?.content ?? [];
  const output = typeof tool === "string" ? undefined : tool.output;
  let typed: MessageShape<DescMessage> | undefined;
  if (output !== undefined && result !== undefined && call.error === undefined && !result.isError) {
    if (result.typedResult !== undefined) {
      typed = anyUnpack(result.typedResult, createRegistry(output));
    } else if (result.structuredContent !== undefined) {
      const decoded = decodeOpenEnvJson(output, result.structuredContent, { ignoreUnknownFields: true, rules: false });
      if (decoded.ok) typed = decoded.message;
    }
  }
  return {
    toolName: call.toolName,
    content,
    text: content
      .filter((c) => c.type === "text")
      .map((c) => c.text)
      .join("\n"),
    structuredContent: result?.structuredContent,
    data: valueJson(result?.data),
    isError: result?.isError ?? false,
    error:
      call.error === undefined ? undefined : { type: toolErrorName(call.error.errorType) as ToolErrorKind, message: call.error.message },
    output: typed as ToolCallResult<O>["output"],
    step,
  };
}

/** Throws unless the client's environment is a tool environment. */
export function assertToolEnvironment(action: DescMessage): void {
  if (action.typeName !== ToolActionSchema.typeName) {
    throw new ConnectError(
      `not a tool environment: its action is ${action.typeName}, not ${ToolActionSchema.typeName}`,
      Code.FailedPrecondition,
    );
  }
}
