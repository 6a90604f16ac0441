import { type DescMessage, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import { type Any, durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { EnvironmentService, StepResult as WireStepResult } from "../../gen/openenv/v1/environment_service_pb.js";
import { typeNameOf, typeUrlOf } from "../protocol/descriptors.js";
import type { BackendReset, BackendResult, BackendStep, EnvBackend } from "./backend.js";
import { type AnyStepChannel, openStepChannel } from "./channels.js";
import type { ChannelRequest, FinalReply, StepChannel } from "./step-channel.js";
import type { OwnedTransport } from "./transports.js";

/** The message schemas a backend decodes with. */
export interface BackendSchemas {
  readonly action: DescMessage;
  readonly observation: DescMessage;
  readonly state: DescMessage;
  readonly partial?: DescMessage | undefined;
}

/** A session over one bidirectional Step stream (Connect, gRPC, gRPC-Web or in-process). */
export class RpcBackend implements EnvBackend {
  private channel: AnyStepChannel | undefined;
  private session: string | undefined;

  constructor(
    readonly transport: string,
    private readonly rpc: Client<typeof EnvironmentService>,
    private readonly schemas: BackendSchemas,
    private readonly headers: HeadersInit | undefined,
    private readonly stepTimeoutMs: number | undefined,
    /** The HTTP/2 connection, when the fast Step channel may write on it directly. */
    private readonly connection: OwnedTransport | undefined = undefined,
    private readonly fastPath = true,
  ) {}

  get sessionId(): string | undefined {
    return this.session;
  }

  async reset(params: BackendReset): Promise<BackendResult> {
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

  async step(action: Message, params: BackendStep): Promise<BackendResult> {
    const onPartial = params.onPartial;
    const schema = this.schemas.partial ?? this.schemas.observation;
    const reply = await this.send(
      { command: { case: "action", value: packAny(this.schemas.action, action) }, timeout: this.timeout(params.timeoutMs) },
      onPartial === undefined
        ? undefined
        : (p) => {
            if (p.observation !== undefined) onPartial(unpack(schema, p.observation), p.progress);
          },
    );
    return this.result(reply);
  }

  async state(): Promise<Message> {
    const reply = await this.send({ command: { case: "state", value: {} } }, undefined);
    if (reply.case !== "state" || reply.value.state === undefined) {
      throw new ConnectError("the server answered a state query with no state", Code.Internal);
    }
    return unpack(this.schemas.state, reply.value.state);
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    if (channel !== undefined && channel.broken === undefined) {
      await channel.close();
    } else if (this.session !== undefined) {
      await this.rpc.closeSession({ sessionId: this.session }, { headers: this.headers }).catch(() => {});
    }
  }

  private async send(init: ChannelRequest, onPartial: Parameters<StepChannel["request"]>[1]): Promise<FinalReply> {
    let channel = this.channel;
    if (channel === undefined || channel.broken !== undefined) {
      channel = openStepChannel(this.rpc, this.connection, this.headers, this.fastPath);
      this.channel = channel;
      // A new stream (after a break) re-attaches the session it served.
      if (this.session !== undefined) init = { ...init, sessionId: this.session };
    }
    const reply = await channel.request(init, onPartial);
    if (channel.sessionId !== undefined) this.session = channel.sessionId;
    return reply;
  }

  private timeout(ms: number | undefined) {
    const t = ms ?? this.stepTimeoutMs;
    return t === undefined ? undefined : durationFromMs(t);
  }

  private result(reply: FinalReply): BackendResult {
    if (reply.case !== "result") throw new ConnectError(`expected a step result, got ${reply.case}`, Code.Internal);
    return toResult(this.schemas.observation, reply.value);
  }
}

/** `anyPack` without its `create()` copy: a complete `Any` literal (this is on every step). */
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
export function toResult(observationSchema: DescMessage, r: WireStepResult): BackendResult {
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
