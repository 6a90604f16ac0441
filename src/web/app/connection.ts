import type { FieldSpec } from "./fields.js";
import type { FieldError, JsonRecord } from "./form.js";
import type { ToolSupport, ToolView } from "./tools.js";

/** What a reset or step produced, as the page shows it (JSON with proto field names). */
export interface StepView {
  readonly observation: JsonRecord;
  readonly reward: number | null;
  readonly done: boolean;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly metadata: JsonRecord;
  readonly rewardComponents: Readonly<Record<string, number>>;
  readonly stepCount: number | undefined;
  readonly episodeId: string | undefined;
}

/** A partial observation of a step still running (e.g. a chunk of a program's output). */
export interface PartialView {
  readonly observation: JsonRecord;
  readonly progress: number | undefined;
}

/** The environment as the page needs it, from Describe or from OpenEnv's `/schema` and `/metadata`. */
export interface EnvDescription {
  readonly name: string;
  readonly description: string;
  readonly version: string;
  readonly readme: string;
  readonly actionFields: readonly FieldSpec[];
  /** Fields of the environment's reset options message, when the descriptors have one. */
  readonly resetFields: readonly FieldSpec[] | undefined;
  /** Type names used to pick a renderer: full protobuf names (Describe) or schema titles (OpenEnv). */
  readonly actionType: string;
  readonly observationType: string;
  readonly partialType: string;
  readonly stateType: string;
  readonly rewardComponents: readonly string[];
  readonly partialObservations: boolean;
  /** The tools of a tool (MCP) environment, when Describe lists them. */
  readonly tools?: readonly ToolView[];
}

/** An open connection to an environment server, holding at most one session. */
export interface EnvConnection {
  readonly description: EnvDescription;
  /** How the page talks to the server, for display, e.g. "Connect (binary) + Step stream". */
  readonly transport: string;
  /** A tool (MCP) environment's tools and how to call one; undefined for other environments. */
  readonly tools: ToolSupport | undefined;
  reset(params: { seed?: string; episodeId?: string; options?: JsonRecord }): Promise<StepView>;
  step(action: JsonRecord, onPartial: (p: PartialView) => void): Promise<StepView>;
  state(): Promise<JsonRecord>;
  /** Ends the session (best effort, also on page unload). */
  close(): void;
}

/** A failed call, with the server's code and the field errors it named (if any). */
export class CallError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly fields: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = "CallError";
  }
}

/** The server wants credentials (HTTP 401, Connect UNAUTHENTICATED). */
export class AuthRequired extends CallError {
  constructor(message: string) {
    super(message, "unauthenticated");
  }
}

/** Where the credentials come from: asked for once per tab, never put in a URL. */
export interface Credentials {
  token(): string | undefined;
}

/** `Authorization` header for fetch, when there is a token. */
export function authHeaders(credentials: Credentials): Record<string, string> {
  const token = credentials.token();
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}
