import type * as http2 from "node:http2";
import { fromBinary } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createContextValues,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
} from "@connectrpc/connect";
import type { Http2SessionManager } from "@connectrpc/connect-node";
import {
  EnvironmentService,
  type StepRequest,
  type StepRequestSchema,
  type StepResponse,
  StepResponseSchema,
} from "../../gen/openenv/v1/environment_service_pb.js";
import { AsyncQueue } from "../protocol/async-queue.js";
import { encodeStepRequest } from "../protocol/step-codec.js";
import {
  EnvelopeReader,
  hasGrpcStatus,
  readEndOfStream,
  STEP_METHOD,
  STEP_PATH,
  type StepWireProtocol,
  stepRequestHeaders,
  trailerError,
} from "../protocol/step-wire.js";
import type { HeaderValues } from "./backend.js";
import type { OpenStepStream, StepStream, StepStreamEvents } from "./step-channel.js";

/** A Step stream through connect-es's generic client: any transport (JSON, in-process, custom), its interceptors included. */
export function connectStepStream(client: Client<typeof EnvironmentService>, headers?: HeaderValues): OpenStepStream {
  return (events) => {
    const requests = new AsyncQueue<StepRequest>();
    const abort = new AbortController();
    const responses = client.step(requests, { signal: abort.signal, headers });
    void (async () => {
      try {
        for await (const res of responses) events.reply(res);
        events.closed(serverEnded());
      } catch (err) {
        events.closed(ConnectError.from(err, Code.Internal));
      } finally {
        requests.end();
      }
    })();
    return {
      send: (req) => void requests.push(req),
      end: () => requests.end(),
      cancel: (reason) => abort.abort(reason),
    };
  };
}

/** An HTTP/2 connection on which Step streams may be written directly, and what every call on it applies. */
export interface Http2StepConnection {
  readonly sessions: Http2SessionManager;
  readonly protocol: StepWireProtocol;
  readonly baseUrl: string;
  readonly interceptors: readonly Interceptor[];
  readonly readMaxBytes: number;
}

/**
 * A Step stream written directly on the HTTP/2 connection (binary gRPC,
 * gRPC-Web or Connect framing) instead of through connect-node's per-message
 * async-iterable pipeline. The user's interceptors run around it as around any
 * connect-es call; as long as none replaces the request or response message
 * iterable (header-only interceptors such as auth), messages skip the iterables.
 */
export function http2StepStream(connection: Http2StepConnection, headers?: HeaderValues): OpenStepStream {
  return (events) => new Http2StepStream(connection, headers, events);
}

type AnyFn = Parameters<Interceptor>[0];

class Http2StepStream implements StepStream {
  private readonly abort = new AbortController();
  /** The request messages as interceptors see them (only iterated when one replaced them). */
  private readonly outgoing = new AsyncQueue<StepRequest>();
  /** The response messages as interceptors see them (only fed when one replaced them). */
  private readonly incoming = new AsyncQueue<StepResponse>();
  private h2: http2.ClientHttp2Stream | undefined;
  /** How requests reach the wire: held until the stream opens, then written directly or through `outgoing`. */
  private out: "held" | "direct" | "iterable" = "held";
  private held: StepRequest[] = [];
  private halfClosed = false;
  /** How replies reach the channel: held until the interceptors return, then directly or through their iterable. */
  private in: "held" | "direct" | "iterable" = "held";
  private early: StepResponse[] = [];
  /** The status the server ended with (null: none seen yet). */
  private status: ConnectError | undefined | null = null;
  private streamError: ConnectError | undefined;
  private reported = false;

  constructor(
    private readonly connection: Http2StepConnection,
    headers: HeaderValues | undefined,
    private readonly events: StepStreamEvents,
  ) {
    // connect-es applies interceptors the same way (its applyInterceptors is not exported;
    // runStreamingCall would wrap both message iterables even when no interceptor does).
    const call = connection.interceptors.reduceRight<AnyFn>((next, interceptor) => interceptor(next), this.open.bind(this) as AnyFn);
    call({
      stream: true,
      service: EnvironmentService,
      method: STEP_METHOD,
      requestMethod: "POST",
      url: `${connection.baseUrl.replace(/\/$/, "")}${STEP_PATH}`,
      signal: this.abort.signal,
      header: stepRequestHeaders(connection.protocol, headers),
      contextValues: createContextValues(),
      message: this.outgoing,
    }).then(
      (res) => this.responded(res),
      (err: unknown) => this.report(ConnectError.from(err, Code.Internal)),
    );
  }

  send(req: StepRequest): void {
    if (this.out === "direct") {
      const stream = this.h2;
      if (stream !== undefined && !stream.writableEnded) stream.write(encodeStepRequest(req, true));
    } else if (this.out === "iterable") this.outgoing.push(req);
    else this.held.push(req);
  }

  end(): void {
    this.halfClosed = true;
    if (this.out === "direct") this.endRequests();
    else if (this.out === "iterable") this.outgoing.end();
  }

  cancel(reason: ConnectError): void {
    this.abort.abort(reason);
    if (this.h2 === undefined) this.report(reason);
    else this.h2.close(0x8 /* CANCEL */);
  }

  /** The innermost call of the interceptor chain: opens the HTTP/2 stream with the headers the interceptors left. */
  private open(req: StreamRequest<typeof StepRequestSchema, typeof StepResponseSchema>): Promise<StreamResponse> {
    const outgoing: http2.OutgoingHttpHeaders = {};
    req.header.forEach((value, key) => {
      outgoing[key] = value;
    });
    const path = new URL(req.url).pathname;
    return this.connection.sessions.request("POST", path, outgoing, {}).then(
      (stream) =>
        new Promise<StreamResponse>((resolve, reject) => {
          this.h2 = stream;
          if (this.abort.signal.aborted) stream.close(0x8 /* CANCEL */);
          this.listen(stream, resolve, reject);
          if (req.message === this.outgoing) {
            this.out = "direct";
            for (const r of this.held) stream.write(encodeStepRequest(r, true));
            if (this.halfClosed) this.endRequests();
          } else {
            this.out = "iterable";
            for (const r of this.held) this.outgoing.push(r);
            if (this.halfClosed) this.outgoing.end();
            this.pumpRequests(stream, req.message);
          }
          this.held = [];
        }),
    );
  }

  private pumpRequests(stream: http2.ClientHttp2Stream, messages: AsyncIterable<StepRequest>): void {
    void (async () => {
      try {
        for await (const m of messages) if (!stream.destroyed) stream.write(encodeStepRequest(m, true));
        this.endRequests();
      } catch (err) {
        this.streamError ??= ConnectError.from(err, Code.Internal);
        stream.close(0x8 /* CANCEL */);
      }
    })();
  }

  private endRequests(): void {
    const stream = this.h2;
    if (stream !== undefined && !stream.destroyed && !stream.writableEnded) stream.end();
  }

  /** The interceptors returned the response: replies go to the channel directly, or through the iterable they put in its place. */
  private responded(res: Awaited<ReturnType<AnyFn>>): void {
    if (!res.stream) {
      this.report(new ConnectError("an interceptor answered the Step stream with a unary response", Code.Internal));
      return;
    }
    const early = this.early;
    this.early = [];
    if (res.message === this.incoming) {
      this.in = "direct";
      for (const r of early) this.events.reply(r);
      this.reportEnd();
      return;
    }
    this.in = "iterable";
    for (const r of early) this.incoming.push(r);
    if (this.h2?.closed === true) this.endIncoming();
    void (async () => {
      try {
        for await (const r of res.message as AsyncIterable<StepResponse>) this.events.reply(r);
        this.report(this.endReason());
      } catch (err) {
        this.report(ConnectError.from(err, Code.Internal));
      }
    })();
  }

  private listen(stream: http2.ClientHttp2Stream, resolve: (res: StreamResponse) => void, reject: (err: ConnectError) => void): void {
    const reader = new EnvelopeReader(this.connection.readMaxBytes);
    const protocol = this.connection.protocol;
    const trailer = new Headers();
    stream.on("response", (raw) => {
      const header = toHeaders(raw);
      const status = raw[":status"];
      if (status !== 200) {
        const err = new ConnectError(`HTTP ${status} from the Step endpoint`, status === 404 ? Code.Unimplemented : Code.Unavailable);
        this.status = err;
        reject(err);
        stream.close(0x8 /* CANCEL */);
        return;
      }
      // A gRPC trailers-only answer carries its status in the headers.
      if (protocol !== "connect" && hasGrpcStatus(header)) this.ended(stream, trailerError(header));
      resolve({
        stream: true,
        service: EnvironmentService,
        method: STEP_METHOD as StreamResponse["method"],
        header,
        trailer,
        message: this.incoming,
      });
    });
    let lastAlive = 0;
    const onEnvelope = (flags: number, data: Uint8Array): void => {
      const end = readEndOfStream(protocol, flags, data);
      if (end !== undefined) this.ended(stream, end.error);
      else this.deliver(fromBinary(StepResponseSchema, data));
    };
    stream.on("data", (chunk: Buffer) => {
      // Tells connect-node's keep-alive logic the connection lives; it re-arms a timer
      // each time, so once a second is plenty.
      const now = Date.now();
      if (now - lastAlive > 1000) {
        lastAlive = now;
        this.connection.sessions.notifyResponseByteRead(stream);
      }
      try {
        reader.push(chunk, onEnvelope);
      } catch (err) {
        this.streamError ??= ConnectError.from(err, Code.Internal);
        stream.close(0x2 /* INTERNAL_ERROR */);
      }
    });
    stream.on("trailers", (raw) => {
      const headers = toHeaders(raw);
      headers.forEach((value, key) => {
        trailer.set(key, value);
      });
      this.ended(stream, trailerError(headers));
    });
    stream.on("end", () => {
      if (this.status === null) this.status = undefined;
    });
    stream.on("error", (err) => {
      this.streamError ??= ConnectError.from(err, Code.Internal);
    });
    stream.on("close", () => {
      if (this.status === null && this.streamError === undefined && stream.rstCode !== undefined && stream.rstCode !== 0) {
        this.streamError = new ConnectError(`stream reset (HTTP/2 code ${stream.rstCode})`, Code.Unavailable);
      }
      reject(this.endReason());
      if (this.in === "direct") this.reportEnd();
      else if (this.in === "iterable") this.endIncoming();
      else if (this.abort.signal.aborted) this.report(this.endReason());
    });
  }

  /** The server sent its status: that is the stream's end, whatever comes after; close our side too. */
  private ended(stream: http2.ClientHttp2Stream, err: ConnectError | undefined): void {
    if (this.status === null) this.status = err;
    if (!stream.writableEnded) stream.end();
  }

  private deliver(res: StepResponse): void {
    if (this.in === "direct") this.events.reply(res);
    else if (this.in === "iterable") this.incoming.push(res);
    else this.early.push(res);
  }

  private endReason(): ConnectError {
    return this.status ?? this.streamError ?? serverEnded();
  }

  private endIncoming(): void {
    const reason = this.status ?? this.streamError;
    if (reason !== undefined) this.incoming.fail(reason);
    else this.incoming.end();
  }

  private reportEnd(): void {
    if (this.h2 === undefined || this.h2.closed) this.report(this.endReason());
  }

  private report(reason: ConnectError): void {
    if (this.reported) return;
    this.reported = true;
    this.abort.abort(reason);
    this.events.closed(reason);
  }
}

function serverEnded(): ConnectError {
  return new ConnectError("the server ended the step stream", Code.Unavailable);
}

function toHeaders(h: http2.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(":") || v === undefined) continue;
    out.set(k, Array.isArray(v) ? v.join(", ") : v);
  }
  return out;
}
