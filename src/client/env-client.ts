import {
  create,
  type DescMessage,
  fromBinary,
  isMessage,
  type JsonObject,
  type Message,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import { type Any, durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  type DescribeResponse,
  EnvironmentService,
  type StepResult as WireStepResult,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { jsonRegistry, registryFromFileSet, typeNameOf, typeUrlOf } from "../protocol/descriptors.js";
import type { EnvironmentSpec } from "../server/environment.js";
import type { EnvironmentRouter } from "../server/router.js";
import { type AnyStepChannel, openStepChannel } from "./channels.js";
import { type RolloutOptions, type RolloutStep, rollout } from "./rollout.js";
import type { ChannelRequest, FinalReply, StepChannel } from "./step-channel.js";
import { createTransport, type OwnedTransport, type RpcTransportKind } from "./transports.js";

/** The schemas a typed client needs: an environment's spec, or just its message schemas. */
export type EnvClientSpec<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> = Pick<EnvironmentSpec<A, O, S, P>, "action" | "observation" | "state" | "partial">;

/** Options of {@link EnvClient}. */
export interface EnvClientOptions<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> {
  /** Server URL, e.g. `http://127.0.0.1:8000`. */
  readonly baseUrl?: string;
  /** The generated schemas of the environment; omit to learn them from the server's Describe. */
  readonly spec?: EnvClientSpec<A, O, S, P>;
  /** Protocol: `"connect"` (default), `"connect-json"`, `"grpc"`, `"grpc-web"`, `"in-process"`, or a ready Connect `Transport`. */
  readonly transport?: RpcTransportKind | Transport;
  /**
   * A connection shared with other clients (see `VectorEnv`): many sessions
   * multiplexed over one HTTP/2 connection. The client does not close it.
   */
  readonly connection?: OwnedTransport;
  /** For `"in-process"`: the server's router (see `createEnvironmentRouter`). */
  readonly router?: EnvironmentRouter;
  /** Connect interceptors (e.g. to add an auth header). */
  readonly interceptors?: Interceptor[];
  /** Headers sent with every call. */
  readonly headers?: HeadersInit;
  /** Deadline of each step and reset, sent to the server. Default: the server's. */
  readonly stepTimeoutMs?: number;
  /** Check on connect that the server serves these message types. Default true. */
  readonly verify?: boolean;
  /** Write binary Step streams directly on the HTTP/2 connection rather than through connect-node's client. Default true. */
  readonly fastPath?: boolean;
}

/** Reset parameters. */
export interface ResetParams {
  /** Seed of the environment's random generator. */
  readonly seed?: number | bigint;
  /** Episode id to use; the server generates one otherwise. */
  readonly episodeId?: string;
  /** Environment-specific options (OpenEnv's extra reset kwargs). */
  readonly options?: JsonObject;
  /** Deadline of this reset. */
  readonly timeoutMs?: number;
}

/** Per-step options. */
export interface StepParams<P extends DescMessage = DescMessage> {
  /** Deadline of this step. */
  readonly timeoutMs?: number;
  /** Called with each partial observation the environment emits before the result. */
  readonly onPartial?: (partial: MessageShape<P>, progress: number | undefined) => void;
}

/** The result of a step or reset, with a typed observation. */
export interface StepResult<O extends DescMessage = DescMessage> {
  readonly observation: MessageShape<O>;
  /** The reward, or undefined when the environment gives none. */
  readonly reward: number | undefined;
  /** `terminated || truncated`. */
  readonly done: boolean;
  /** The episode reached a terminal state of the task. */
  readonly terminated: boolean;
  /** The episode was cut short (e.g. a step limit). */
  readonly truncated: boolean;
  readonly metadata: JsonObject;
  /** Named reward components (rubric scores). */
  readonly rewardComponents: Readonly<Record<string, number>>;
  readonly stepCount: number;
  readonly episodeId: string;
}

/**
 * A typed client of one environment session over one bidirectional Step stream.
 *
 * @example
 * ```ts
 * await using env = await EnvClient.connect({ baseUrl: "http://127.0.0.1:8000", spec: echoSpec });
 * await env.reset({ seed: 1 });
 * const r = await env.step({ message: "hi" });
 * console.log(r.observation.echoedMessage, r.reward);
 * ```
 */
export class EnvClient<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> implements AsyncDisposable
{
  /** The server's description, once connected. */
  info: DescribeResponse | undefined;
  private spec: EnvClientSpec<A, O, S, P> | undefined;
  private owned: OwnedTransport | undefined;
  private shared: OwnedTransport | undefined;
  private rpc: Client<typeof EnvironmentService> | undefined;
  private channel: AnyStepChannel | undefined;
  private sessionIdValue: string | undefined;
  private closed = false;
  private readonly transportName: string;

  constructor(private readonly options: EnvClientOptions<A, O, S, P>) {
    this.spec = options.spec;
    this.transportName =
      options.connection?.kind ??
      (typeof options.transport === "string" ? options.transport : options.transport === undefined ? "connect" : "custom");
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

  /** The session this client drives (after the first reset). */
  get sessionId(): string | undefined {
    return this.sessionIdValue;
  }

  /** The protocol in use: `connect`, `grpc`, `grpc-web`, `in-process`, ... */
  get transport(): string {
    return this.transportName;
  }

  /** The schemas in use (given, or learned from Describe). */
  get schemas(): EnvClientSpec<A, O, S, P> {
    if (this.spec === undefined) throw new ConnectError("not connected: call connect() first", Code.FailedPrecondition);
    return this.spec;
  }

  /** Opens the transport and reads the server's Describe (checking the message types unless `verify: false`). */
  async connect(): Promise<this> {
    const rpc = this.client();
    if (this.spec === undefined || this.options.verify !== false) {
      const info = await rpc.describe({}, { headers: this.options.headers });
      this.info = info;
      if (this.spec === undefined) {
        this.spec = schemasFromDescribe(info) as unknown as EnvClientSpec<A, O, S, P>;
      } else {
        const want = [this.spec.action.typeName, this.spec.observation.typeName, this.spec.state.typeName];
        const got = [info.actionType, info.observationType, info.stateType];
        if (want.some((w, i) => w !== got[i])) {
          throw new ConnectError(
            `the server at ${this.options.baseUrl ?? "(in-process)"} serves ${got.join(" / ")}, not ${want.join(" / ")}`,
            Code.FailedPrecondition,
          );
        }
      }
    }
    return this;
  }

  /** Starts a new episode (opening a session on the first call) and returns its first observation. */
  async reset(params: ResetParams = {}): Promise<StepResult<O>> {
    const reply = await this.send(
      {
        command: {
          case: "reset",
          value: {
            seed: params.seed === undefined ? undefined : BigInt(params.seed),
            episodeId: params.episodeId,
            options: params.options,
          },
        },
        timeout: this.timeout(params.timeoutMs),
      },
      undefined,
    );
    return this.result(reply);
  }

  /** Applies one action: a message or a plain object of the Action's fields. */
  async step(action: MessageShape<A> | MessageInitShape<A>, params: StepParams<P> = {}): Promise<StepResult<O>> {
    const spec = this.schemas;
    const onPartial = params.onPartial;
    const reply = await this.send(
      { command: { case: "action", value: this.packAction(action) }, timeout: this.timeout(params.timeoutMs) },
      onPartial === undefined
        ? undefined
        : (p) => {
            if (p.observation === undefined) return;
            const schema = spec.partial ?? spec.observation;
            onPartial(unpack(schema, p.observation) as MessageShape<P>, p.progress);
          },
    );
    return this.result(reply);
  }

  /** The session's typed state. */
  async state(): Promise<MessageShape<S>> {
    const reply = await this.send({ command: { case: "state", value: {} } }, undefined);
    if (reply.case !== "state" || reply.value.state === undefined) {
      throw new ConnectError("the server answered a state query with no state", Code.Internal);
    }
    return unpack(this.schemas.state, reply.value.state) as MessageShape<S>;
  }

  /** Ends the session and releases the connection. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const channel = this.channel;
    this.channel = undefined;
    try {
      if (channel !== undefined && channel.broken === undefined) {
        await channel.close();
      } else if (this.sessionIdValue !== undefined && this.rpc !== undefined) {
        await this.rpc.closeSession({ sessionId: this.sessionIdValue }, { headers: this.options.headers }).catch(() => {});
      }
    } finally {
      this.owned?.close();
    }
  }

  /**
   * Runs episodes with a policy, yielding every transition as it happens:
   * `for await (const t of env.rollout(policy)) ...`. Resets first (unless
   * `reset: false`), stops at the end of the episode or after `maxSteps`.
   */
  rollout(
    policy: (
      observation: MessageShape<O>,
      last: StepResult<O>,
    ) => MessageShape<A> | MessageInitShape<A> | PromiseLike<MessageShape<A> | MessageInitShape<A>>,
    options: RolloutOptions = {},
  ): AsyncGenerator<RolloutStep<A, O>, void, undefined> {
    return rollout(this, policy, options);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The underlying generated Connect client, for calls this class does not wrap. */
  client(): Client<typeof EnvironmentService> {
    if (this.rpc === undefined) {
      const t = this.options.transport;
      const shared = this.options.connection;
      if (shared !== undefined) {
        this.shared = shared;
        this.rpc = createClient(EnvironmentService, shared.transport);
      } else if (typeof t === "object") {
        this.rpc = createClient(EnvironmentService, t);
      } else {
        this.owned = createTransport({
          kind: t ?? "connect",
          baseUrl: this.options.baseUrl,
          router: this.options.router,
          interceptors: this.options.interceptors,
          registry:
            this.spec !== undefined
              ? jsonRegistry([this.spec.action, this.spec.observation, this.spec.state, this.spec.partial])
              : undefined,
        });
        this.rpc = createClient(EnvironmentService, this.owned.transport);
      }
    }
    return this.rpc;
  }

  private async send(init: ChannelRequest, onPartial: Parameters<StepChannel["request"]>[1]): Promise<FinalReply> {
    if (this.closed) throw new ConnectError("the client is closed", Code.FailedPrecondition);
    if (this.spec === undefined) await this.connect();
    let channel = this.channel;
    if (channel === undefined || channel.broken !== undefined) {
      channel = openStepChannel(this.client(), this.owned ?? this.shared, this.options.headers, this.options.fastPath !== false);
      this.channel = channel;
      if (this.sessionIdValue !== undefined) {
        // A new stream (after a break) re-attaches the session it served.
        init = { ...init, sessionId: this.sessionIdValue };
      }
    }
    const reply = await channel.request(init, onPartial);
    if (channel.sessionId !== undefined) this.sessionIdValue = channel.sessionId;
    return reply;
  }

  private packAction(action: MessageShape<A> | MessageInitShape<A>): Any {
    const schema: DescMessage = this.schemas.action;
    if (isMessage(action)) {
      const got = (action as Message).$typeName;
      if (got !== schema.typeName) {
        throw new ConnectError(`action: expected type ${schema.typeName}, got '${got}'`, Code.InvalidArgument);
      }
      return packAny(schema, action as Message);
    }
    return packAny(schema, create(schema, action as MessageInitShape<DescMessage>));
  }

  private timeout(ms: number | undefined) {
    const t = ms ?? this.options.stepTimeoutMs;
    return t === undefined ? undefined : durationFromMs(t);
  }

  private result(reply: FinalReply): StepResult<O> {
    if (reply.case !== "result") throw new ConnectError(`expected a step result, got ${reply.case}`, Code.Internal);
    return toResult(this.schemas.observation, reply.value) as StepResult<O>;
  }
}

/** `anyPack` without its `create()` copy: a complete `Any` literal. */
function packAny(schema: DescMessage, message: Message): Any {
  return { $typeName: "google.protobuf.Any", typeUrl: typeUrlOf(schema), value: toBinary(schema, message) };
}

/** Decodes an `Any` of a known schema, checking its type. */
export function unpack(schema: DescMessage, any: Any): Message {
  const name = typeNameOf(any.typeUrl);
  if (name !== schema.typeName) {
    throw new ConnectError(`expected ${schema.typeName} from the server, got '${name}'`, Code.Internal);
  }
  return fromBinary(schema, any.value);
}

/** Converts a wire step result into the typed client result. */
export function toResult(observationSchema: DescMessage, r: WireStepResult): StepResult {
  if (r.observation === undefined) throw new ConnectError("the server sent a step result with no observation", Code.Internal);
  return {
    observation: unpack(observationSchema, r.observation),
    reward: r.reward,
    done: r.done,
    terminated: r.terminated,
    truncated: r.truncated,
    metadata: r.metadata ?? {},
    rewardComponents: r.rewardComponents,
    stepCount: r.stepCount,
    episodeId: r.episodeId,
  };
}

/** The message schemas named by a Describe answer, decoded from its descriptors. */
export function schemasFromDescribe(info: DescribeResponse): EnvClientSpec {
  if (info.descriptors === undefined) throw new ConnectError("Describe returned no descriptors", Code.Internal);
  const registry = registryFromFileSet(info.descriptors);
  const get = (name: string): DescMessage => {
    const m = registry.getMessage(name);
    if (m === undefined) throw new ConnectError(`Describe's descriptors do not define ${name}`, Code.Internal);
    return m;
  };
  return {
    action: get(info.actionType),
    observation: get(info.observationType),
    state: get(info.stateType),
    partial: info.partialType !== "" ? get(info.partialType) : undefined,
  };
}
