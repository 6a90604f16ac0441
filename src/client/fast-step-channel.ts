import type * as http2 from "node:http2";
import { create, isMessage } from "@bufbuild/protobuf";
import type { Any, Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { endStreamFlag, endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse } from "@connectrpc/connect/protocol-grpc-web";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import { type PartialObservation, StepRequestSchema, type StepResponse } from "../../gen/openenv/v1/environment_service_pb.js";
import { EnvelopeReader } from "../protocol/envelope.js";
import { fromStepError, toConnectError } from "../protocol/errors.js";
import { decodeStepResponse, encodeActionRequest, encodeStepRequest } from "../protocol/step-codec.js";
import type { ChannelRequest, FinalReply } from "./step-channel.js";

/** The wire protocols of the fast Step channel. */
export type FastStepProtocol = "grpc" | "grpc-web" | "connect";

const contentTypes: Record<FastStepProtocol, string> = {
  grpc: "application/grpc+proto",
  "grpc-web": "application/grpc-web+proto",
  connect: "application/connect+proto",
};

interface Pending {
  resolve(reply: FinalReply): void;
  reject(err: ConnectError): void;
  onPartial: ((p: PartialObservation) => void) | undefined;
}

/**
 * A Step stream written directly on an HTTP/2 stream (binary gRPC, gRPC-Web or
 * Connect framing) instead of through connect-node's generic client: the same
 * request/reply correlation as {@link StepChannel}, less CPU per step.
 */
export class FastStepChannel {
  private readonly pending = new Map<string, Pending>();
  private readonly prefix = `${Math.random().toString(36).slice(2, 8)}-`;
  private counter = 0;
  private failure: ConnectError | undefined;
  private stream: http2.ClientHttp2Stream | undefined;
  private readonly opened: Promise<http2.ClientHttp2Stream>;
  private readonly ended: Promise<void>;
  private endedResolve!: () => void;
  private trailerError: ConnectError | undefined | null = null;
  /** The session the server attached this stream to. */
  sessionId: string | undefined;

  constructor(
    sessions: Http2SessionManager,
    private readonly protocol: FastStepProtocol,
    headers: Record<string, string> = {},
    private readonly maxBytes = 100 * 1024 * 1024,
  ) {
    this.ended = new Promise((r) => {
      this.endedResolve = r;
    });
    const h: http2.OutgoingHttpHeaders = { ...headers, "content-type": contentTypes[protocol] };
    if (protocol === "grpc") h.te = "trailers";
    if (protocol === "connect") h["connect-protocol-version"] = "1";
    this.opened = sessions.request("POST", "/openenv.v1.EnvironmentService/Step", h, {}).then((stream) => {
      this.stream = stream;
      this.listen(stream, sessions);
      return stream;
    });
    this.opened.catch((err: unknown) => this.fail(toConnectError(err)));
  }

  /** Set once the stream has ended; later requests reject with it. */
  get broken(): ConnectError | undefined {
    return this.failure;
  }

  /** Sends a request and resolves with its final reply; rejects with the server's error for it. */
  request(init: ChannelRequest, onPartial?: (p: PartialObservation) => void, requestId?: string): Promise<FinalReply> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = requestId ?? `${this.prefix}${(this.counter++).toString(36)}`;
    const command = init.command;
    const bytes =
      command?.case === "action" && isMessage(command.value) && (init.timeout === undefined || isMessage(init.timeout))
        ? encodeActionRequest(id, init.sessionId ?? "", command.value as Any, init.timeout as Duration | undefined, true)
        : encodeStepRequest(create(StepRequestSchema, { ...init, requestId: id }), true);
    return new Promise<FinalReply>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onPartial });
      const stream = this.stream;
      if (stream !== undefined) {
        stream.write(bytes);
      } else {
        void this.opened.then((s) => s.write(bytes), noop);
      }
    });
  }

  /** Half-closes the stream (the server then ends the session) and waits for it to end. */
  async close(): Promise<void> {
    const stream = await this.opened.catch(() => undefined);
    if (stream !== undefined && !stream.destroyed) stream.end();
    await this.ended;
  }

  /** Drops the stream without a half-close, as a broken connection would. */
  async cancel(): Promise<void> {
    const stream = await this.opened.catch(() => undefined);
    this.fail(new ConnectError("stream cancelled by the client", Code.Canceled));
    stream?.close(0x8 /* CANCEL */);
    await this.ended;
  }

  private listen(stream: http2.ClientHttp2Stream, sessions: Http2SessionManager): void {
    const reader = new EnvelopeReader(this.maxBytes);
    stream.on("response", (headers) => {
      const status = headers[":status"];
      if (status !== 200) {
        this.fail(new ConnectError(`HTTP ${status} from the Step endpoint`, status === 404 ? Code.Unimplemented : Code.Unavailable));
        return;
      }
      if (this.protocol !== "connect") {
        // gRPC trailers-only responses carry the status in the headers.
        const err = headers["grpc-status"] !== undefined ? findTrailerError(toHeaders(headers)) : undefined;
        if (err !== undefined) this.trailerError = err;
      }
    });
    let lastAlive = 0;
    stream.on("data", (chunk: Buffer) => {
      // Tells connect-node's keep-alive logic the connection lives; it re-arms a timer
      // each time, so once a second is plenty.
      const now = Date.now();
      if (now - lastAlive > 1000) {
        lastAlive = now;
        sessions.notifyResponseByteRead(stream);
      }
      try {
        reader.push(chunk);
        for (let env = reader.next(); env !== undefined; env = reader.next()) {
          if (this.protocol === "grpc-web" && (env.flags & trailerFlag) === trailerFlag) {
            this.finished(stream, findTrailerError(trailerParse(env.data)));
            continue;
          }
          if (this.protocol === "connect" && (env.flags & endStreamFlag) === endStreamFlag) {
            this.finished(stream, endStreamFromJson(env.data).error);
            continue;
          }
          this.dispatch(decodeStepResponse(env.data));
        }
      } catch (err) {
        this.fail(toConnectError(err));
        stream.close(0x2 /* INTERNAL_ERROR */);
      }
    });
    stream.on("trailers", (trailers) => {
      this.finished(stream, findTrailerError(toHeaders(trailers)));
    });
    stream.on("end", () => this.finished(stream, this.trailerError ?? undefined));
    stream.on("close", () => {
      const err =
        this.trailerError ??
        (this.trailerError === null
          ? new ConnectError(
              stream.rstCode !== undefined && stream.rstCode !== 0
                ? `stream reset (HTTP/2 code ${stream.rstCode})`
                : "the server ended the step stream",
              Code.Unavailable,
            )
          : new ConnectError("the server ended the step stream", Code.Unavailable));
      this.fail(err);
      this.endedResolve();
    });
    stream.on("error", (err) => this.fail(toConnectError(err)));
  }

  /** The server ended the stream (with this status): fail what is pending and close our side too. */
  private finished(stream: http2.ClientHttp2Stream, err: ConnectError | undefined): void {
    this.trailerError = err;
    this.fail(err ?? new ConnectError("the server ended the step stream", Code.Unavailable));
    if (!stream.writableEnded) stream.end();
  }

  private dispatch(res: StepResponse): void {
    if (res.sessionId !== "") this.sessionId = res.sessionId;
    const p = this.pending.get(res.requestId);
    if (p === undefined) return;
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
    if (this.stream === undefined) this.endedResolve();
  }
}

function toHeaders(h: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined) continue;
    out.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  return out;
}

function noop(): void {}
