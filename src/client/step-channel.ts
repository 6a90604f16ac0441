import { create, isMessage, type MessageInitShape } from "@bufbuild/protobuf";
import type { Any, Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type PartialObservation,
  type StepRequest,
  StepRequestSchema,
  type StepResponse,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { fromStepError } from "../protocol/errors.js";

/** The final reply to one request: a result or a state (errors reject). */
export type FinalReply = Exclude<StepResponse["kind"], { case: "partial" } | { case: "error" } | { case: undefined }>;

/** One request's init, without its request id (the channel assigns one). */
export type ChannelRequest = Omit<MessageInitShape<typeof StepRequestSchema>, "requestId" | "$typeName">;

/** What an open Step stream reports to its channel. */
export interface StepStreamEvents {
  /** A reply arrived. */
  reply(res: StepResponse): void;
  /** The stream ended, once, with why (a clean end of the server is UNAVAILABLE: the channel cannot be used any more). */
  closed(reason: ConnectError): void;
}

/**
 * One open Step stream as a {@link StepChannel} drives it, whatever carries it
 * (connect-es's generic client, or frames written directly on HTTP/2; see
 * step-streams.ts). Implementations apply the user's interceptors.
 */
export interface StepStream {
  /** Sends a request; requests go out in order. */
  send(req: StepRequest): void;
  /** Half-closes the request side: the server then ends the session. */
  end(): void;
  /** Drops the stream without a half-close, as a broken connection would. */
  cancel(reason: ConnectError): void;
}

/** Opens a Step stream that reports to `events`. */
export type OpenStepStream = (events: StepStreamEvents) => StepStream;

interface Pending {
  resolve(reply: FinalReply): void;
  reject(err: ConnectError): void;
  onPartial: ((p: PartialObservation) => void) | undefined;
}

/**
 * One Step stream with request/reply correlation: every request gets a fresh
 * request id and its promise settles with the reply carrying that id, however
 * replies interleave. Many requests may be in flight (pipelining).
 */
export class StepChannel {
  private readonly pending = new Map<string, Pending>();
  private readonly prefix = `${Math.random().toString(36).slice(2, 8)}-`;
  private counter = 0;
  private failure: ConnectError | undefined;
  private readonly stream: StepStream;
  private readonly ended: Promise<void>;
  /** The session the server attached this stream to (from the first reply that names one). */
  sessionId: string | undefined;

  constructor(open: OpenStepStream) {
    let endedResolve!: () => void;
    this.ended = new Promise((r) => {
      endedResolve = r;
    });
    this.stream = open({
      reply: (res) => this.dispatch(res),
      closed: (reason) => {
        this.fail(reason);
        endedResolve();
      },
    });
  }

  /** Set once the stream has ended (normally or not); later requests reject with it. */
  get broken(): ConnectError | undefined {
    return this.failure;
  }

  /** Sends a request and resolves with its final reply; rejects with the server's error for it. */
  request(init: ChannelRequest, onPartial?: (p: PartialObservation) => void, requestId?: string): Promise<FinalReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = requestId ?? `${this.prefix}${(this.counter++).toString(36)}`;
    return new Promise<FinalReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onPartial });
      this.stream.send(stepRequest(init, id));
    });
  }

  /** Half-closes the stream (the server then ends the session) and waits for it to end. */
  async close(): Promise<void> {
    this.stream.end();
    await this.ended;
  }

  /** Drops the stream without a half-close, as a broken connection would. */
  async cancel(): Promise<void> {
    const reason = new ConnectError("stream cancelled by the client", Code.Canceled);
    this.fail(reason);
    this.stream.cancel(reason);
    await this.ended;
  }

  private dispatch(res: StepResponse): void {
    if (res.sessionId !== "") this.sessionId = res.sessionId;
    const p = this.pending.get(res.requestId);
    if (p === undefined) return; // a reply to a request this channel no longer waits for
    const kind = res.kind;
    switch (kind.case) {
      case "partial":
        p.onPartial?.(kind.value);
        return;
      case "error":
        this.pending.delete(res.requestId);
        p.reject(fromStepError(kind.value));
        return;
      case "result":
      case "state":
        this.pending.delete(res.requestId);
        p.resolve(kind);
        return;
      default:
        return;
    }
  }

  private fail(err: ConnectError): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
  }
}

/**
 * The request as a complete message. An action request (every step) is a literal:
 * `create()` would copy it field by field.
 */
function stepRequest(init: ChannelRequest, requestId: string): StepRequest {
  const command = init.command;
  if (command?.case === "action" && isMessage(command.value) && (init.timeout === undefined || isMessage(init.timeout))) {
    return {
      $typeName: "openenv.v1.StepRequest",
      requestId,
      sessionId: init.sessionId ?? "",
      command: { case: "action", value: command.value as Any },
      timeout: init.timeout as Duration | undefined,
    };
  }
  return create(StepRequestSchema, { ...init, requestId });
}
