import type { DescMessage, JsonObject, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { type CallToolResult, ToolErrorType } from "../../../gen/openenv/v1/tools_pb.js";
import type { Awaitable } from "../environment.js";

/** The server's mode, as OpenEnv defines it: production serves tools only (no HTTP reset/step/state). */
export type ServerMode = "simulation" | "production";

/** Tool names OpenEnv reserves for the orchestration API; a tool may never use them. */
export const RESERVED_TOOL_NAMES: readonly string[] = ["reset", "step", "state", "close"];

/** The time limit of a tool call when neither the tool nor the call sets one (OpenEnv's MCP_TOOL_CALL_TIMEOUT). */
export const DEFAULT_TOOL_TIMEOUT_S = 30;

/** OpenEnv's names of the tool error types. */
export type ToolErrorKind = "execution_error" | "invalid_args" | "transport_error" | "tool_not_found" | "timeout";

const KIND_TO_TYPE: Record<ToolErrorKind, ToolErrorType> = {
  execution_error: ToolErrorType.EXECUTION_ERROR,
  invalid_args: ToolErrorType.INVALID_ARGS,
  transport_error: ToolErrorType.TRANSPORT_ERROR,
  tool_not_found: ToolErrorType.TOOL_NOT_FOUND,
  timeout: ToolErrorType.TIMEOUT,
};

/**
 * Thrown by a tool to fail with a specific OpenEnv `ToolError` type (any other
 * exception is an `execution_error`). The message reaches the client as is.
 *
 * @example
 * ```ts
 * if (!path.startsWith("/")) throw new ToolError("invalid_args", "path must be absolute");
 * ```
 */
export class ToolError extends Error {
  readonly errorType: ToolErrorType;

  constructor(kind: ToolErrorKind | ToolErrorType, message: string) {
    super(message);
    this.name = "ToolError";
    this.errorType = typeof kind === "number" ? kind : KIND_TO_TYPE[kind];
  }
}

/** What a tool handler sees besides its arguments. */
export interface ToolContext {
  /** Name of the tool being called. */
  readonly toolName: string;
  /** The session the call belongs to. */
  readonly sessionId: string;
  /** The server's mode. */
  readonly mode: ServerMode;
  /** Aborted when the call exceeds its time limit, the step its deadline, or the session closes. */
  readonly signal: AbortSignal;
  /** When the call times out, as a `Date.now()` timestamp. */
  readonly deadline: number;
  /**
   * Reports progress: a partial observation (`openenv.v1.ToolProgress`) on the
   * Step stream, an MCP progress notification on the MCP surface.
   */
  progress(progress: number, total?: number, message?: string): void;
  /** Sets this step's reward and, optionally, its named components (e.g. a rubric's scores). */
  reward(value: number, components?: Readonly<Record<string, number>>): void;
  /** Ends the episode after this call: the task is complete (`terminated`, default) or cut short (`truncated`). */
  end(kind?: "terminated" | "truncated"): void;
  /** Metadata of this step (OpenEnv's observation metadata); add keys to it. */
  readonly metadata: JsonObject;
}

/**
 * What a tool returns: a string (one text block), any other JSON value (its JSON
 * as text, and as structured content: objects as they are, other values wrapped
 * as `{"result": value}`), a message of the tool's `output` type, or a full
 * {@link toolResult} with content blocks.
 */
export type ToolReturn = string | number | boolean | null | undefined | readonly unknown[] | object | CallToolResult;

/** Fields every tool declares. */
interface ToolBase {
  /** Unique name, e.g. `read_file`; letters, digits, `_`, `-` and `.`; never reset, step, state or close. */
  readonly name: string;
  /** Human-readable title. */
  readonly title?: string;
  /** What the tool does, for the model that calls it. */
  readonly description: string;
  /** JSON Schema of the structured result (derived from `output` when that is set). */
  readonly outputSchema?: JsonObject;
  /** The call's time limit in seconds (default 30, OpenEnv's); a call may ask for less or more. */
  readonly timeoutS?: number;
  /** The server modes the tool is available in; default both (OpenEnv's mode-aware tools). */
  readonly modes?: readonly ServerMode[];
}

/** A tool whose arguments are a proto message. */
export interface ProtoToolInit<E, I extends DescMessage, O extends DescMessage | undefined> extends ToolBase {
  /** The arguments message; its fields and `(buf.validate.field)` rules are the input schema and its checks. */
  readonly input: I;
  /** JSON Schema shown to clients instead of the one derived from `input` (the checks stay the message's). */
  readonly inputSchema?: JsonObject;
  /** The result message, when the tool returns one (typed clients decode it). */
  readonly output?: O;
  /** Runs the tool. */
  run(env: E, args: MessageShape<I>, ctx: ToolContext): Awaitable<O extends DescMessage ? MessageInitShape<O> | ToolReturn : ToolReturn>;
}

/** A tool whose arguments are described by a JSON Schema. */
export interface JsonToolInit<E, A> extends ToolBase {
  /** JSON Schema of the arguments object; calls are checked against it. Default: no arguments. */
  readonly inputSchema?: JsonObject;
  readonly input?: undefined;
  readonly output?: undefined;
  /** Runs the tool with the checked arguments. */
  run(env: E, args: A, ctx: ToolContext): Awaitable<ToolReturn>;
}

/**
 * A declared tool, as the environment base class keeps it. A typed client can
 * call it with its message types: `env.callTool(readFile, { path })`.
 */
export interface ToolDefinition<
  I extends DescMessage | undefined = DescMessage | undefined,
  O extends DescMessage | undefined = DescMessage | undefined,
> {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** The arguments message, for proto-typed tools. */
  readonly input: I;
  readonly inputSchema: JsonObject | undefined;
  /** The result message, for tools that declare one. */
  readonly output: O;
  readonly outputSchema: JsonObject | undefined;
  readonly timeoutS: number;
  readonly modes: readonly ServerMode[];
  /** The handler; `env` is the environment instance, `args` the checked arguments. */
  readonly run: (env: never, args: never, ctx: ToolContext) => Awaitable<unknown>;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Declares a tool: its name, description, typed input (a proto message, or a
 * JSON Schema), optional output message, time limit and handler. The handler's
 * first parameter is the environment instance; annotate its type.
 *
 * @example
 * ```ts
 * const readFile = defineTool({
 *   name: "read_file",
 *   description: "Reads a text file of the workspace.",
 *   input: ReadFileArgsSchema,
 *   run: (env: Workspace, args) => env.read(args.path),
 * });
 * ```
 */
export function defineTool<E, I extends DescMessage, O extends DescMessage | undefined = undefined>(
  init: ProtoToolInit<E, I, O>,
): ToolDefinition<I, O>;
export function defineTool<E, A = JsonObject>(init: JsonToolInit<E, A>): ToolDefinition<undefined, undefined>;
export function defineTool(
  init: ProtoToolInit<unknown, DescMessage, DescMessage | undefined> | JsonToolInit<unknown, unknown>,
): ToolDefinition {
  if (!NAME.test(init.name)) {
    throw new TypeError(`invalid tool name '${init.name}': use 1 to 128 letters, digits, '_', '-' or '.'`);
  }
  if (RESERVED_TOOL_NAMES.includes(init.name)) {
    throw new TypeError(`Tool name '${init.name}' is reserved and cannot be used. Reserved names are: ${pyList(RESERVED_TOOL_NAMES)}`);
  }
  const timeoutS = init.timeoutS ?? DEFAULT_TOOL_TIMEOUT_S;
  if (!(timeoutS > 0) || !Number.isFinite(timeoutS)) throw new TypeError(`tool '${init.name}': timeoutS must be a positive number`);
  const modes = init.modes ?? ["simulation", "production"];
  for (const m of modes) {
    if (m !== "simulation" && m !== "production") {
      throw new TypeError(`Invalid mode '${String(m)}'. Mode must be 'production', 'simulation', or None.`);
    }
  }
  return {
    name: init.name,
    title: init.title ?? "",
    description: init.description,
    input: init.input,
    inputSchema: init.inputSchema,
    output: init.output,
    outputSchema: init.outputSchema,
    timeoutS,
    modes,
    run: init.run as ToolDefinition["run"],
  };
}

/** Checks a set of tools: reserved and duplicate names are refused. */
export function checkTools(tools: readonly ToolDefinition[]): void {
  const seen = new Set<string>();
  const reserved = tools.map((t) => t.name).filter((n) => RESERVED_TOOL_NAMES.includes(n));
  if (reserved.length > 0) {
    throw new TypeError(`MCP tools cannot use reserved names: ${pyList(reserved)}. Reserved names are: ${pyList(RESERVED_TOOL_NAMES)}`);
  }
  for (const t of tools) {
    // The same name may be declared once per mode (OpenEnv's mode-specific variants of a tool).
    for (const mode of t.modes) {
      const key = `${mode}:${t.name}`;
      if (seen.has(key)) throw new TypeError(`tool '${t.name}' is declared twice for ${mode} mode`);
      seen.add(key);
    }
  }
}

/** Python's repr of a sorted list of strings, as OpenEnv's messages print them. */
function pyList(names: readonly string[]): string {
  return `[${[...names]
    .sort()
    .map((n) => `'${n}'`)
    .join(", ")}]`;
}

export type { CallToolResult };
