import { create, type DescMessage, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type CallToolAction,
  type CallToolObservation,
  CallToolObservationSchema,
  type Tool,
  type ToolAction,
  ToolActionSchema,
  ToolErrorType,
  ToolObservationSchema,
  ToolProgressSchema,
  ToolSchema,
} from "../../../gen/openenv/v1/tools_pb.js";
import { pythonNumber } from "../../openenv/pydantic-errors.js";
import { messageJsonSchema } from "../../protocol/json-schema.js";
import {
  type Awaitable,
  Environment,
  type EnvironmentFactory,
  type EnvironmentSource,
  type EnvironmentSpec,
  type ResetOptions,
  type StepContext,
  type StepOutcome,
  toFactory,
} from "../environment.js";
import { checkArguments } from "./arguments.js";
import { checkTools, type ServerMode, type ToolContext, type ToolDefinition, ToolError } from "./define.js";
import { toCallToolResult } from "./result.js";

type Act = typeof ToolActionSchema;
type Obs = typeof ToolObservationSchema;
type Progress = typeof ToolProgressSchema;

/** The spec of a tool environment: an {@link EnvironmentSpec} whose action is ToolAction, plus its tools. */
export interface ToolEnvironmentSpec<S extends DescMessage = DescMessage> extends EnvironmentSpec<Act, Obs, S, Progress> {
  /** The tools, declared once with {@link defineTool}. */
  readonly tools: readonly ToolDefinition[];
}

/** What {@link toolEnvironmentSpec} takes: a spec without the action, observation and partial types, which are fixed. */
export type ToolEnvironmentSpecInit<S extends DescMessage> = Omit<
  EnvironmentSpec<Act, Obs, S, Progress>,
  "action" | "observation" | "partial"
> & {
  readonly tools: readonly ToolDefinition[];
};

/**
 * Builds the spec of a tool environment: the action is `openenv.v1.ToolAction`,
 * the observation `openenv.v1.ToolObservation`, partial observations
 * `openenv.v1.ToolProgress`. Reserved tool names (reset, step, state, close)
 * and duplicates are refused here, when the class is defined.
 */
export function toolEnvironmentSpec<S extends DescMessage>(init: ToolEnvironmentSpecInit<S>): ToolEnvironmentSpec<S> {
  checkTools(init.tools);
  return { ...init, action: ToolActionSchema, observation: ToolObservationSchema, partial: ToolProgressSchema };
}

/** The tools of a spec, or undefined when it is not a tool environment's. */
export function toolsOf(spec: EnvironmentSpec): readonly ToolDefinition[] | undefined {
  if (spec.action.typeName !== ToolActionSchema.typeName) return undefined;
  return (spec as Partial<ToolEnvironmentSpec>).tools ?? [];
}

const described = new WeakMap<readonly ToolDefinition[], Map<ServerMode, Tool[]>>();

/** The Tool messages (name, description, JSON Schemas, message types) of the tools available in a mode; computed once. */
export function describeTools(tools: readonly ToolDefinition[], mode: ServerMode): Tool[] {
  let byMode = described.get(tools);
  if (byMode === undefined) {
    byMode = new Map();
    described.set(tools, byMode);
  }
  let list = byMode.get(mode);
  if (list === undefined) {
    list = tools.filter((t) => t.modes.includes(mode)).map(describeTool);
    byMode.set(mode, list);
  }
  return list;
}

function describeTool(t: ToolDefinition): Tool {
  const inputSchema: JsonObject =
    t.inputSchema ?? (t.input !== undefined ? messageJsonSchema(t.input) : { type: "object", properties: {}, additionalProperties: false });
  return create(ToolSchema, {
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema,
    outputSchema: t.outputSchema ?? (t.output !== undefined ? messageJsonSchema(t.output) : undefined),
    inputType: t.input?.typeName ?? "",
    outputType: t.output?.typeName ?? "",
    timeoutS: t.timeoutS,
  });
}

/**
 * Base class of a tool environment, OpenEnv's `MCPEnvironment`: the agent acts
 * through tools, declared once in the class's spec ({@link toolEnvironmentSpec},
 * {@link defineTool}) with typed input (a proto message or a JSON Schema), a
 * description and a time limit. Every surface reaches them over the same
 * session: `list_tools`/`call_tool` step actions on the Step stream, `/ws` and
 * HTTP `/step` (so rewards and step counts apply); MCP JSON-RPC on `/mcp`; and
 * real MCP over Streamable HTTP.
 *
 * A call's arguments are checked before the handler runs; unknown tools,
 * invalid arguments, timeouts and exceptions become an observation with an
 * OpenEnv `ToolError` (the session stays usable). Handlers set the step's
 * reward and end the episode through their {@link ToolContext}.
 *
 * @example
 * ```ts
 * class Echo extends McpEnvironment<typeof McpEchoStateSchema> {
 *   static readonly spec = toolEnvironmentSpec({
 *     name: "echo-tools",
 *     state: McpEchoStateSchema,
 *     tools: [defineTool({ name: "echo", description: "Echoes.", inputSchema: ECHO_ARGS, run: (_env, a: { message: string }) => a.message })],
 *   });
 *   get state() { return { episodeId: this.episodeId, stepCount: this.stepCount }; }
 * }
 * ```
 */
export abstract class McpEnvironment<S extends DescMessage = DescMessage> extends Environment<Act, Obs, S, Progress> {
  /** The server's mode: production offers only the tools declared for it. The server sets it. */
  mode: ServerMode = "simulation";

  /** The declared tools (by default those of the class's `static spec`). */
  protected get toolDefinitions(): readonly ToolDefinition[] {
    const spec = (this.constructor as { spec?: EnvironmentSpec }).spec;
    const tools = spec === undefined ? undefined : toolsOf(spec);
    if (tools === undefined) throw new TypeError(`${this.constructor.name} has no static spec made with toolEnvironmentSpec()`);
    return tools;
  }

  /** Starts an episode; tool environments usually need no first observation, so this returns an empty one. */
  reset(_options: ResetOptions): Awaitable<StepOutcome<Obs>> {
    return { observation: {} };
  }

  /** The tools available in this instance's mode. */
  listTools(): Tool[] {
    return describeTools(this.toolDefinitions, this.mode);
  }

  /** Lists the tools or calls one; a synchronous handler answers without a promise. */
  step(action: ToolAction, ctx: StepContext<Progress>): Awaitable<StepOutcome<Obs>> {
    switch (action.kind.case) {
      case "listTools":
        return this.finishStep({ observation: { kind: { case: "listTools", value: { tools: this.listTools() } } } }, action);
      case "callTool":
        return this.callTool(action.kind.value, ctx, action);
      default:
        throw new ConnectError("ToolAction sets neither list_tools nor call_tool", Code.InvalidArgument);
    }
  }

  /**
   * Adjusts a step's outcome before it is returned, e.g. to truncate the
   * episode at a turn limit. The default returns it unchanged.
   */
  protected finishStep(outcome: StepOutcome<Obs>, _action: ToolAction): Awaitable<StepOutcome<Obs>> {
    return outcome;
  }

  private callTool(call: CallToolAction, step: StepContext<Progress>, action: ToolAction): Awaitable<StepOutcome<Obs>> {
    const name = call.toolName;
    const tools = this.toolDefinitions;
    const tool = tools.find((t) => t.name === name && t.modes.includes(this.mode));
    const scoring = new Scoring();
    if (tool === undefined) {
      const elsewhere = tools.some((t) => t.name === name);
      const message = elsewhere ? `Tool '${name}' not available in ${this.mode} mode` : `Unknown tool: '${name}'`;
      return this.finish(failure(name, ToolErrorType.TOOL_NOT_FOUND, message), scoring, action);
    }
    const timeoutS = call.timeoutS ?? tool.timeoutS;
    if (!(timeoutS > 0) || !Number.isFinite(timeoutS)) {
      return this.finish(failure(name, ToolErrorType.INVALID_ARGS, "timeout_s must be a positive number of seconds"), scoring, action);
    }
    let args: unknown;
    try {
      args = checkArguments(tool, call);
    } catch (err) {
      return this.finish(failed(tool, err), scoring, action);
    }
    const deadline = Date.now() + timeoutS * 1000;
    let controller: AbortController | undefined;
    const signal = (): AbortSignal => {
      if (controller === undefined) {
        controller = new AbortController();
        const outer = step.signal;
        if (outer.aborted) controller.abort(outer.reason);
        else outer.addEventListener("abort", () => controller?.abort(outer.reason), { once: true });
      }
      return controller.signal;
    };
    const ctx: ToolContext = {
      toolName: name,
      sessionId: step.sessionId,
      mode: this.mode,
      get signal() {
        return signal();
      },
      deadline,
      progress: (progress, total, message) =>
        step.emit(
          { toolName: name, progress, total, message: message ?? "" },
          total !== undefined && total > 0 ? progress / total : undefined,
        ),
      reward: (value, components) => scoring.reward(value, components),
      end: (kind) => scoring.end(kind ?? "terminated"),
      metadata: scoring.metadata,
    };
    let value: unknown;
    try {
      value = (tool.run as (env: this, args: unknown, ctx: ToolContext) => unknown)(this, args, ctx);
    } catch (err) {
      return this.finish(failed(tool, err), scoring, action);
    }
    if (!isThenable(value)) return this.finish(succeeded(tool, value), scoring, action);
    return new Promise<StepOutcome<Obs>>((resolve) => {
      const timer = setTimeout(() => {
        const message = `Tool '${name}' timed out after ${pythonNumber(timeoutS, false)} seconds`;
        signal();
        controller?.abort(new ToolError(ToolErrorType.TIMEOUT, message));
        resolve(this.finish(failure(name, ToolErrorType.TIMEOUT, message), scoring, action));
      }, timeoutS * 1000);
      (value as PromiseLike<unknown>).then(
        (v) => {
          clearTimeout(timer);
          resolve(this.finish(succeeded(tool, v), scoring, action));
        },
        (err: unknown) => {
          clearTimeout(timer);
          resolve(this.finish(failed(tool, err), scoring, action));
        },
      );
    });
  }

  private finish(observation: CallToolObservation, scoring: Scoring, action: ToolAction): Awaitable<StepOutcome<Obs>> {
    return this.finishStep(
      {
        observation: { kind: { case: "callTool", value: observation } },
        reward: scoring.value,
        rewardComponents: scoring.components,
        terminated: scoring.ending === "terminated",
        truncated: scoring.ending === "truncated",
        metadata: scoring.metadata,
      },
      action,
    );
  }
}

/** The reward, ending and metadata a handler sets through its context. */
class Scoring {
  value: number | undefined;
  components: Readonly<Record<string, number>> | undefined;
  ending: "terminated" | "truncated" | undefined;
  readonly metadata: JsonObject = {};

  reward(value: number, components?: Readonly<Record<string, number>>): void {
    if (!Number.isFinite(value)) throw new TypeError(`reward must be a finite number, got ${value}`);
    this.value = value;
    this.components = components;
  }

  end(kind: "terminated" | "truncated"): void {
    this.ending = kind;
  }
}

function succeeded(tool: ToolDefinition, value: unknown): CallToolObservation {
  try {
    return create(CallToolObservationSchema, { toolName: tool.name, result: toCallToolResult(tool, value) });
  } catch (err) {
    return failed(tool, err);
  }
}

function failure(toolName: string, errorType: ToolErrorType, message: string): CallToolObservation {
  return create(CallToolObservationSchema, { toolName, error: { errorType, message } });
}

/** A handler's exception as OpenEnv reports it: a ToolError keeps its type, anything else is an execution error. */
function failed(tool: ToolDefinition, err: unknown): CallToolObservation {
  if (err instanceof ToolError) return failure(tool.name, err.errorType, err.message);
  const text = err instanceof Error ? err.message : String(err);
  return failure(tool.name, ToolErrorType.EXECUTION_ERROR, `Error calling tool '${tool.name}': ${text}`);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

/**
 * Serves a tool environment in a server mode: instances get `mode` set, so
 * production serves only the tools declared for it (OpenEnv's mode-aware tools,
 * whose mode nothing in OpenEnv's server sets).
 */
export function inMode<A extends DescMessage, O extends DescMessage, S extends DescMessage, P extends DescMessage>(
  source: EnvironmentSource<A, O, S, P>,
  mode: ServerMode,
): EnvironmentFactory<A, O, S, P> {
  const factory = toFactory(source);
  if (mode === "simulation" || toolsOf(factory.spec) === undefined) return factory;
  return {
    spec: factory.spec,
    create: async (): Promise<Environment<A, O, S, P>> => {
      const env: Environment<A, O, S, P> = await factory.create();
      const tools: unknown = env;
      if (tools instanceof McpEnvironment) tools.mode = mode;
      return env;
    },
  };
}

/**
 * Every message type an environment's clients may meet: its Action,
 * Observation, State and partial types, and the input and output messages of
 * its tools (inside `typed_arguments` and `typed_result`). Describe sends their
 * descriptors, reflection serves them, the JSON codecs resolve `Any` with them.
 */
export function specMessages(spec: EnvironmentSpec): DescMessage[] {
  const out: DescMessage[] = [spec.action, spec.observation, spec.state];
  if (spec.partial !== undefined) out.push(spec.partial);
  for (const t of toolsOf(spec) ?? []) {
    if (t.input !== undefined && !out.includes(t.input)) out.push(t.input);
    if (t.output !== undefined && !out.includes(t.output)) out.push(t.output);
  }
  return out;
}
