import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError } from "@connectrpc/connect";
import {
  type EnvironmentService,
  type PartialObservation,
  type StepRequest,
  StepRequestSchema,
  type StepResponse,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { AsyncQueue } from "../protocol/async-queue.js";
import { fromStepError, toConnectError } from "../protocol/errors.js";
import type { HeaderValues } from "./backend.js";

/** The final reply to one request: a result or a state (errors reject). */
export type FinalReply = Exclude<StepResponse["kind"], { case: "partial" } | { case: "error" } | { case: undefined }>;

/** One request's init, without its request id (the channel assigns one). */
export type ChannelRequest = Omit<MessageInitShape<typeof StepRequestSchema>, "requestId" | "$typeName">;

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
  private readonly requests = new AsyncQueue<StepRequest>();
  private readonly pending = new Map<string, Pending>();
  private readonly abort = new AbortController();
  private readonly prefix: string;
  private counter = 0;
  private failure: ConnectError | undefined;
  private readonly done: Promise<void>;
  /** The session the server attached this stream to (from the first reply that names one). */
  sessionId: string | undefined;

  constructor(client: Client<typeof EnvironmentService>, headers?: HeaderValues, prefix = randomPrefix()) {
    this.prefix = prefix;
    const responses = client.step(this.requests, { signal: this.abort.signal, headers });
    this.done = this.read(responses);
  }

  /** True once the stream has ended (normally or not). */
  get broken(): ConnectError | undefined {
    return this.failure;
  }

  /** Sends a request and resolves with its final reply; rejects with the server's error for it. */
  request(init: ChannelRequest, onPartial?: (p: PartialObservation) => void, requestId?: string): Promise<FinalReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = requestId ?? `${this.prefix}${(this.counter++).toString(36)}`;
    return new Promise<FinalReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onPartial });
      this.requests.push(create(StepRequestSchema, { ...init, requestId: id }));
    });
  }

  /** Half-closes the stream (the server then ends the session) and waits for it to end. */
  async close(): Promise<void> {
    this.requests.end();
    await this.done;
  }

  /** Drops the stream without a half-close, as a broken connection would. */
  async cancel(): Promise<void> {
    this.abort.abort(new ConnectError("stream cancelled by the client", Code.Canceled));
    await this.done;
  }

  private async read(responses: AsyncIterable<StepResponse>): Promise<void> {
    try {
      for await (const res of responses) {
        if (res.sessionId !== "") this.sessionId = res.sessionId;
        const p = this.pending.get(res.requestId);
        if (p === undefined) continue; // a reply to a request this channel no longer waits for
        const kind = res.kind;
        switch (kind.case) {
          case "partial":
            p.onPartial?.(kind.value);
            break;
          case "error":
            this.pending.delete(res.requestId);
            p.reject(fromStepError(kind.value));
            break;
          case "result":
          case "state":
            this.pending.delete(res.requestId);
            p.resolve(kind);
            break;
          default:
            break;
        }
      }
      this.fail(new ConnectError("the server ended the step stream", Code.Unavailable));
    } catch (err) {
      this.fail(toConnectError(err));
    }
  }

  private fail(err: ConnectError): void {
    this.failure ??= err;
    this.requests.end();
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

function randomPrefix(): string {
  return `${Math.random().toString(36).slice(2, 8)}-`;
}
