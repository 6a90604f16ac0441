import { type DescMessage, fromBinary, type Message, toBinary } from "@bufbuild/protobuf";
import { type Any, durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import type { EnvironmentService, StepResult as WireStepResult } from "../../gen/openenv/v1/environment_service_pb.js";
import { typeNameOf, typeUrlOf } from "../protocol/descriptors.js";
import { findSessionLost } from "../protocol/errors.js";
import type { EnvBackend, EnvStepResult, HeaderValues, ResetParams, StepParams } from "./backend.js";
import {
  type OpenRetryPolicy,
  openBackoff,
  openRetryPolicy,
  type ReconnectEvent,
  type RetryPolicy,
  refusedOpen,
  resumeDelay,
  retryPolicy,
  withSession,
} from "./retry-policy.js";

export type { ReconnectEvent, RetryPolicy } from "./retry-policy.js";

import { type ChannelRequest, type FinalReply, StepChannel } from "./step-channel.js";
import { connectStepStream, http2StepStream } from "./step-streams.js";
import type { OwnedTransport } from "./transports.js";

/** The message schemas a backend decodes with. */
export interface BackendSchemas {
  readonly action: DescMessage;
  readonly observation: DescMessage;
  readonly state: DescMessage;
  readonly partial?: DescMessage | undefined;
}

/** Stream failures after which the same request may be sent again on a new stream (the server dedupes it by request id). */
const RETRYABLE: ReadonlySet<Code> = new Set([Code.Unavailable, Code.Unknown, Code.Internal, Code.Canceled]);

/** Options of {@link RpcBackend}. */
export interface RpcBackendOptions {
  readonly transport: string;
  readonly rpc: Client<typeof EnvironmentService>;
  readonly schemas: BackendSchemas;
  readonly headers?: HeaderValues | undefined;
  readonly stepTimeoutMs?: number | undefined;
  /** The HTTP/2 connection, when the fast Step channel may write on it directly. */
  readonly connection?: OwnedTransport | undefined;
  readonly fastPath?: boolean;
  readonly retry?: RetryPolicy | false | undefined;
  readonly onReconnect?: ((event: ReconnectEvent) => void) | undefined;
  /** Attach to this existing session on the first request. */
  readonly sessionId?: string | undefined;
  /** Streams ask the server to keep the session when they end; close() does not end it. */
  readonly keepSession?: boolean | undefined;
  readonly openRetry?: OpenRetryPolicy | false | undefined;
}

/** The request header that makes a Step stream's session outlive the stream (the server's `keepSessionHeader`). */
const KEEP_SESSION_HEADER = "openenv-keep-session";

/**
 * A session over one bidirectional Step stream (Connect, gRPC, gRPC-Web or
 * in-process). When the stream breaks, the next stream re-attaches the session
 * and the interrupted request is sent again with its request id, so the server
 * answers it from its record instead of applying it twice.
 */
export class RpcBackend implements EnvBackend {
  readonly transport: string;
  /** Streams re-opened after a break, since the backend started. */
  reconnects = 0;
  private channel: StepChannel | undefined;
  private session: string | undefined;
  private readonly rpc: Client<typeof EnvironmentService>;
  private readonly schemas: BackendSchemas;
  private readonly headers: HeaderValues | undefined;
  private readonly stepTimeoutMs: number | undefined;
  private readonly connection: OwnedTransport | undefined;
  private readonly fastPath: boolean;
  private readonly retry: Required<RetryPolicy>;
  private readonly onReconnect: ((event: ReconnectEvent) => void) | undefined;
  private readonly keepSession: boolean;
  private readonly openRetry: Required<OpenRetryPolicy>;
  private readonly idPrefix = `${Math.random().toString(36).slice(2, 10)}.`;
  private counter = 0;

  constructor(options: RpcBackendOptions) {
    this.transport = options.transport;
    this.rpc = options.rpc;
    this.schemas = options.schemas;
    this.keepSession = options.keepSession === true;
    this.session = options.sessionId;
    if (this.keepSession) {
      const headers = new Headers(options.headers);
      headers.set(KEEP_SESSION_HEADER, "true");
      this.headers = headers;
    } else {
      this.headers = options.headers;
    }
    this.stepTimeoutMs = options.stepTimeoutMs;
    this.connection = options.connection;
    this.fastPath = options.fastPath !== false;
    this.retry = retryPolicy(options.retry);
    this.onReconnect = options.onReconnect;
    this.openRetry = openRetryPolicy(options.openRetry);
  }

  get sessionId(): string | undefined {
    return this.session;
  }

  async reset(params: ResetParams): Promise<EnvStepResult> {
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

  async step(action: Message, params: StepParams): Promise<EnvStepResult> {
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
    } else if (this.session !== undefined && !this.keepSession) {
      await this.rpc.closeSession({ sessionId: this.session }, { headers: withSession(this.headers, this.session) }).catch(() => {});
    }
  }

  private async send(init: ChannelRequest, onPartial: Parameters<StepChannel["request"]>[1]): Promise<FinalReply> {
    // One id per request for all its attempts: a retry of a request the server already
    // applied is answered from the session's record.
    const requestId = `${this.idPrefix}${(this.counter++).toString(36)}`;
    for (let attempt = 0, reopened = 0; ; attempt++) {
      let channel = this.channel;
      let request = init;
      if (channel === undefined || channel.broken !== undefined) {
        // A stream that resumes a session names it in a header too, for load balancers to route on.
        const headers = withSession(this.headers, this.session);
        const direct = this.fastPath ? this.connection?.direct : undefined;
        channel = new StepChannel(direct !== undefined ? http2StepStream(direct, headers) : connectStepStream(this.rpc, headers));
        this.channel = channel;
      }
      // A new stream (after a break) re-attaches the session it served.
      if (this.session !== undefined && channel.sessionId === undefined) request = { ...init, sessionId: this.session };
      try {
        const reply = await channel.request(request, onPartial, requestId);
        if (channel.sessionId !== undefined) this.session = channel.sessionId;
        return reply;
      } catch (err) {
        const broken = channel.broken;
        if (err instanceof ConnectError && findSessionLost(err) !== undefined) {
          // The session ended with the replica that held it: nothing to resume. The next
          // reset opens a new session on a new stream, which a balancer sends to a live replica.
          this.session = undefined;
          this.channel = undefined;
          void channel.cancel().catch(() => {});
          throw err;
        }
        if (this.session === undefined && init.command?.case === "reset" && err !== broken && refusedOpen(err)) {
          // The server is full or draining: open on a new stream, which a balancer may send elsewhere.
          if (reopened >= this.openRetry.attempts) throw err;
          reopened++;
          attempt--;
          this.channel = undefined;
          void channel.close();
          await openBackoff(this.openRetry, reopened);
          continue;
        }
        // In-band errors are the server's answer; only a broken stream is worth another attempt.
        if (!(err instanceof ConnectError) || broken === undefined || err !== broken || !RETRYABLE.has(err.code)) throw err;
        if (attempt >= this.retry.attempts) throw err;
        const delayMs = resumeDelay(this.retry, attempt);
        this.reconnects++;
        this.onReconnect?.({ attempt: attempt + 1, sessionId: this.session, error: err, delayMs });
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  private timeout(ms: number | undefined) {
    const t = ms ?? this.stepTimeoutMs;
    return t === undefined ? undefined : durationFromMs(t);
  }

  private result(reply: FinalReply): EnvStepResult {
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
export function toResult(observationSchema: DescMessage, r: WireStepResult): EnvStepResult {
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
