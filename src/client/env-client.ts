import {
  create,
  type DescMessage,
  isMessage,
  type JsonObject,
  type Message,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { DescribeResponse, EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import type { Tool, ToolObservation } from "../../gen/openenv/v1/tools_pb.js";
import { WebSocketBackend } from "../openenv/client/backends.js";
import { enumNamesToNumbers, hasEnumFields } from "../protocol/enum-names.js";
import type { EnvBackend, EnvStepResult, ResetParams, StepParams } from "./backend.js";
import type { EnvClientOptions, EnvClientSpec, EnvTransportKind } from "./env-client-options.js";
import { BackendOpener } from "./open-backend.js";
import { type RolloutOptions, type RolloutPolicy, type RolloutStep, rollout } from "./rollout.js";
import { RpcBackend } from "./rpc-backend.js";
import {
  assertToolEnvironment,
  callToolAction,
  listToolsAction,
  type ToolCallResult,
  type ToolRef,
  toolCallResult,
  toolsFrom,
} from "./tools.js";

export type { EnvStepResult, HeaderValues, ResetParams, StepParams } from "./backend.js";
export type { EnvClientOptions, EnvClientSpec, EnvTransportKind } from "./env-client-options.js";

/**
 * A typed client of one environment session: over one bidirectional Step
 * stream, or over OpenEnv's WebSocket or HTTP protocol when the server (an
 * HTTP/1.1-only path, an OpenEnv Python server) does not speak HTTP/2. Results
 * are the same typed messages whichever transport is used; {@link transport}
 * says which one was chosen.
 *
 * @example
 * ```ts
 * await using env = await EnvClient.connect({ baseUrl: "http://127.0.0.1:8000", spec: echoSpec });
 * await env.reset({ seed: 1 });
 * const r = await env.step({ message: "hi" });
 * console.log(r.observation.echoedMessage, r.reward, env.transport);
 * ```
 */
export class EnvClient<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> implements AsyncDisposable
{
  private readonly opener: BackendOpener;
  private backend: EnvBackend | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private readonly kind: EnvTransportKind | "custom";
  private toolCache: Tool[] | undefined;

  constructor(options: EnvClientOptions<A, O, S, P>) {
    const t = options.transport;
    this.kind = options.connection?.kind ?? (typeof t === "string" ? t : t === undefined ? "auto" : "custom");
    this.opener = new BackendOpener(options as EnvClientOptions, this.kind);
  }

  /** The server's description, once connected (undefined for servers that have none, e.g. OpenEnv's). */
  get info(): DescribeResponse | undefined {
    return this.opener.info;
  }

  /** Creates a client and connects it. */
  static async connect<
    A extends DescMessage = DescMessage,
    O extends DescMessage = DescMessage,
    S extends DescMessage = DescMessage,
    P extends DescMessage = DescMessage,
  >(options: EnvClientOptions<A, O, S, P>): Promise<EnvClient<A, O, S, P>> {
    const client = new EnvClient(options);
    await client.connect();
    return client;
  }

  /** The session this client drives (after the first reset; not known over an OpenEnv Python server). */
  get sessionId(): string | undefined {
    return this.backend?.sessionId;
  }

  /** The protocol in use: `connect`, `grpc`, `grpc-web`, `in-process`, `websocket`, `http`, ... (`auto` before connecting). */
  get transport(): string {
    return this.backend?.transport ?? this.kind;
  }

  /** How many times the client resumed its session on a new stream after a break. */
  get reconnects(): number {
    const backend = this.backend;
    return backend instanceof RpcBackend || backend instanceof WebSocketBackend ? backend.reconnects : 0;
  }

  /** The schemas in use (given, or learned from Describe). */
  get schemas(): EnvClientSpec<A, O, S, P> {
    const spec = this.opener.spec;
    if (spec === undefined) throw new ConnectError("not connected: call connect() first", Code.FailedPrecondition);
    return spec as unknown as EnvClientSpec<A, O, S, P>;
  }

  /** Chooses the transport, reads the server's Describe (checking the message types unless `verify: false`). */
  async connect(): Promise<this> {
    if (this.closed) throw new ConnectError("the client is closed", Code.FailedPrecondition);
    this.connecting ??= this.opener.open().then(
      (backend) => {
        this.backend = backend;
      },
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    await this.connecting;
    return this;
  }

  /** Starts a new episode (opening a session on the first call) and returns its first observation. */
  async reset(params: ResetParams = {}): Promise<EnvStepResult<O>> {
    const backend = await this.ready();
    return (await backend.reset(params)) as EnvStepResult<O>;
  }

  /** Applies one action: a message or a plain object of the Action's fields. */
  async step(action: MessageShape<A> | MessageInitShape<A>, params: StepParams<P> = {}): Promise<EnvStepResult<O>> {
    const backend = await this.ready();
    return (await backend.step(this.toAction(action), params as StepParams)) as EnvStepResult<O>;
  }

  /**
   * The tools of a tool environment (one whose action is `openenv.v1.ToolAction`).
   * A `list_tools` step, as OpenEnv's MCP client takes; before the first reset on
   * an RPC transport, the list from Describe. Cached unless `useCache: false`.
   */
  async listTools(options: { readonly useCache?: boolean } = {}): Promise<Tool[]> {
    await this.ready();
    assertToolEnvironment(this.schemas.action);
    if (options.useCache !== false && this.toolCache !== undefined) return this.toolCache;
    const info = this.info;
    if (this.sessionId === undefined && this.backend instanceof RpcBackend && info !== undefined) {
      this.toolCache = info.tools;
      return this.toolCache;
    }
    const r = await this.step(listToolsAction() as unknown as MessageShape<A>);
    this.toolCache = toolsFrom(r.observation as ToolObservation);
    return this.toolCache;
  }

  /**
   * Calls a tool of a tool environment: one step (rewards and step counts
   * apply). Pass a tool's name and a JSON object of arguments, or a tool
   * declared with `defineTool` and its typed arguments, and get its typed
   * output back. A failed call (unknown tool, invalid arguments, timeout, an
   * exception in the tool) is not thrown: `error` says why.
   */
  async callTool<I extends DescMessage | undefined = undefined, Out extends DescMessage | undefined = undefined>(
    tool: string | ToolRef<I, Out>,
    args?: I extends DescMessage ? MessageShape<I> | MessageInitShape<I> : JsonObject,
    params: StepParams<P> & { readonly toolTimeoutS?: number } = {},
  ): Promise<ToolCallResult<Out>> {
    await this.ready();
    assertToolEnvironment(this.schemas.action);
    const binary = this.backend instanceof RpcBackend;
    const action = callToolAction(tool as string | ToolRef, args as JsonObject | undefined, { binary, timeoutS: params.toolTimeoutS });
    const r = await this.step(action as unknown as MessageShape<A>, params);
    return toolCallResult(r as EnvStepResult, tool as string | ToolRef<DescMessage | undefined, Out>);
  }

  /** The session's typed state. */
  async state(): Promise<MessageShape<S>> {
    const backend = await this.ready();
    return (await backend.state()) as MessageShape<S>;
  }

  /** Ends the session and releases the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => {});
    const backend = this.backend;
    try {
      await backend?.close();
    } finally {
      // After a failed connect the HTTP/2 session may be failing right now; aborting it then
      // makes connect-node drop its error listener and the late 'error' would crash the
      // process. Left alone, it is unref'd and closes on its idle timeout.
      if (backend !== undefined) this.opener.owned?.close();
    }
  }

  /**
   * Runs episodes with a policy, yielding every transition as it happens:
   * `for await (const t of env.rollout(policy)) ...`. Resets before each episode,
   * stops at its end or after `maxSteps`.
   */
  rollout(policy: RolloutPolicy<A, O>, options: RolloutOptions = {}): AsyncGenerator<RolloutStep<A, O>, void, undefined> {
    return rollout(this, policy, options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The underlying generated Connect client, for calls this class does not wrap. */
  client(): Client<typeof EnvironmentService> {
    return this.opener.client();
  }

  private async ready(): Promise<EnvBackend> {
    if (this.closed) throw new ConnectError("the client is closed", Code.FailedPrecondition);
    if (this.backend === undefined) await this.connect();
    return this.backend as EnvBackend;
  }

  private toAction(action: MessageShape<A> | MessageInitShape<A>): Message {
    const schema: DescMessage = this.schemas.action;
    if (isMessage(action)) {
      const got = (action as Message).$typeName;
      if (got !== schema.typeName) {
        throw new ConnectError(`action: expected type ${schema.typeName}, got '${got}'`, Code.InvalidArgument);
      }
      return action as Message;
    }
    if (!hasEnumFields(schema)) return create(schema, action as MessageInitShape<DescMessage>);
    try {
      // An untyped caller may name enum values as JSON does ("DIRECTION_RIGHT").
      return create(schema, enumNamesToNumbers(schema, action as Record<string, unknown>) as MessageInitShape<DescMessage>);
    } catch (err) {
      throw err instanceof TypeError ? new ConnectError(`action: ${err.message}`, Code.InvalidArgument) : err;
    }
  }
}
