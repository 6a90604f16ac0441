// A worker's view of the other workers: who serves, who is gone, and how calls
// for their sessions are forwarded to them over their private unix sockets.
import type * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { JsonObject } from "@bufbuild/protobuf";
import { type Client, Code, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EnvironmentService, type StepRequest } from "../../../gen/openenv/v1/environment_service_pb.js";
import type { ForwardedHeaders, RemoteSessions, StepRelay } from "../../core/placement.js";
import type { ReplySink } from "../../core/step-input.js";
import { JsonRpcCode, jsonRpcError } from "../../openenv/server/json-rpc.js";
import { AsyncQueue } from "../../protocol/async-queue.js";
import { sessionLostError } from "../../protocol/errors.js";
import type { ServerRequest, ServerResponse } from "../serve.js";
import { type LostWorker, ownerOf, type PeerInfo } from "./messages.js";

/** Headers that describe one hop (or the RPC framing), never forwarded. */
const hopHeaders = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "host",
  "http2-settings",
  "content-length",
  "content-type",
  "content-encoding",
  "accept-encoding",
  "user-agent",
]);

function forwardable(name: string): boolean {
  return !(
    name.startsWith(":") ||
    hopHeaders.has(name) ||
    name.startsWith("grpc-") ||
    name.startsWith("connect-") ||
    name === "x-user-agent" ||
    name === "x-grpc-web"
  );
}

/** The caller's own headers (credentials, `openenv-keep-session`, ...) without the protocol's. */
export function forwardedHeaders(headers: ForwardedHeaders | undefined): Headers {
  const out = new Headers();
  if (headers === undefined) return out;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      if (forwardable(name)) out.append(name, value);
    });
    return out;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !forwardable(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}

/** A failure to reach the owner (not an error the owner answered with) gets the owner's name. */
function relayError(err: unknown, owner: string): ConnectError {
  const e = ConnectError.from(err);
  const transport = e.cause !== undefined && !(e.cause instanceof ConnectError);
  if (transport && e.code !== Code.Canceled && e.code !== Code.DeadlineExceeded) {
    return new ConnectError(`lost the connection to ${owner}: ${e.rawMessage}`, Code.Unavailable);
  }
  // The owner's own error, as it sent it (its response metadata stays behind).
  const copy = new ConnectError(e.rawMessage, e.code);
  copy.details = [...e.details];
  return copy;
}

function callOptions(ctx: HandlerContext) {
  return { headers: forwardedHeaders(ctx.requestHeader), signal: ctx.signal, timeoutMs: ctx.timeoutMs() };
}

/** A live peer worker: one HTTP/2 connection to its unix socket carries every forwarded call. */
class Peer {
  readonly connection: Http2SessionManager;
  readonly client: Client<typeof EnvironmentService>;
  readonly remote: RemoteSessions;
  readonly label: string;

  constructor(
    readonly info: PeerInfo,
    maxMessageBytes: number,
  ) {
    this.label = `worker ${info.id}`;
    this.connection = new Http2SessionManager(
      "http://openenv-worker",
      { pingIdleConnection: false, idleConnectionTimeoutMs: 60_000 },
      { createConnection: () => net.connect(info.socket) },
    );
    const transport = createGrpcTransport({
      baseUrl: "http://openenv-worker",
      sessionManager: this.connection,
      readMaxBytes: maxMessageBytes,
      writeMaxBytes: maxMessageBytes,
    });
    this.client = createClient(EnvironmentService, transport);
    const owner = (id: string): string => `${this.label}, which owns session ${id}`;
    this.remote = {
      reset: (req, ctx) =>
        this.client.reset(req, callOptions(ctx)).catch((e: unknown) => Promise.reject(relayError(e, owner(req.sessionId)))),
      state: (req, ctx) =>
        this.client.state(req, callOptions(ctx)).catch((e: unknown) => Promise.reject(relayError(e, owner(req.sessionId)))),
      closeSession: (req, ctx) =>
        this.client.closeSession(req, callOptions(ctx)).catch((e: unknown) => Promise.reject(relayError(e, owner(req.sessionId)))),
      step: (out, headers) => new GrpcStepRelay(this.client, out, forwardedHeaders(headers), this.label),
      jsonRpc: (request, headers) => this.jsonRpc(request, headers),
    };
  }

  /** Posts a JSON-RPC request to the peer's `/mcp` and returns its JSON-RPC response. */
  private async jsonRpc(request: JsonObject, headers: ForwardedHeaders | undefined): Promise<JsonObject> {
    const id = request.id ?? null;
    const out: http2.OutgoingHttpHeaders = { "content-type": "application/json" };
    forwardedHeaders(headers).forEach((value, name) => {
      out[name] = value;
    });
    try {
      const stream = await this.connection.request("POST", "/mcp", out, {});
      stream.end(JSON.stringify(request));
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => {
        this.connection.notifyResponseByteRead(stream);
        chunks.push(c);
      });
      await new Promise<void>((resolve, reject) => {
        stream.once("end", resolve);
        stream.once("error", reject);
      });
      const answer = JSON.parse(Buffer.concat(chunks).toString("utf8")) as JsonObject;
      if (answer.jsonrpc === "2.0") return answer;
      return jsonRpcError(id, JsonRpcCode.ServerError, String(answer.detail ?? "the session's worker refused the request"));
    } catch (err) {
      return jsonRpcError(id, JsonRpcCode.ServerError, `lost the connection to ${this.label}: ${ConnectError.from(err).rawMessage}`);
    }
  }

  close(): void {
    // A connection that already failed emits a second 'error' on abort; nobody needs it.
    const conn = (this.connection as unknown as { s?: { conn?: { on?: (e: string, f: () => void) => void } } }).s?.conn;
    conn?.on?.("error", () => {});
    this.connection.abort();
  }
}

/** A Step stream relayed to its session's owner over a gRPC stream. */
class GrpcStepRelay implements StepRelay {
  private readonly requests = new AsyncQueue<StepRequest>();
  private readonly cancel = new AbortController();
  private sent = 0;
  private answered = 0;
  private draining: ConnectError | undefined;
  private done = false;

  constructor(
    client: Client<typeof EnvironmentService>,
    private readonly out: ReplySink,
    headers: Headers,
    private readonly owner: string,
  ) {
    void this.run(client, headers);
  }

  send(req: StepRequest): void {
    if (this.done) return;
    this.sent++;
    this.requests.push(req);
  }

  end(): void {
    this.requests.end();
  }

  abort(cause: ConnectError): void {
    this.stop(cause);
  }

  drain(cause: ConnectError): void {
    this.draining = cause;
    if (this.answered >= this.sent) this.stop(cause);
  }

  private stop(cause: ConnectError): void {
    if (this.done) return;
    this.done = true;
    this.cancel.abort(cause);
    this.out.fail(cause);
  }

  private async run(client: Client<typeof EnvironmentService>, headers: Headers): Promise<void> {
    try {
      for await (const res of client.step(this.requests, { headers, signal: this.cancel.signal })) {
        if (this.done) return;
        if (res.kind.case !== "partial") this.answered++;
        this.out.push(res);
        if (this.draining !== undefined && this.answered >= this.sent) return this.stop(this.draining);
      }
      if (!this.done) {
        this.done = true;
        this.out.end();
      }
    } catch (err) {
      if (this.done) return;
      this.done = true;
      this.out.fail(relayError(err, this.owner));
    }
  }
}

/** Calls for the sessions of a worker that is gone: NOT_FOUND with `SessionLost`, saying why. */
function lostOwner(worker: number, reason: string): RemoteSessions {
  const error = (id: string): ConnectError =>
    sessionLostError({ sessionId: id, holder: `worker ${worker}` }, `session '${id}' was lost: ${reason}`);
  return {
    reset: (req) => Promise.reject(error(req.sessionId)),
    state: (req) => Promise.reject(error(req.sessionId)),
    closeSession: (req) => Promise.reject(error(req.sessionId)),
    step: (_out, _headers, id) => error(id),
    jsonRpc: async (request) => {
      const id = (request.params as JsonObject | undefined)?.session_id;
      return jsonRpcError(
        request.id ?? null,
        JsonRpcCode.InvalidParams,
        `Unknown session_id: ${String(id)} (the session was lost: ${reason})`,
      );
    },
  };
}

/** Where a session lives, seen from one worker. */
export type Route = { readonly peer: Peer } | { readonly lost: string } | undefined;

/** The other workers of the cluster, as the primary last announced them. */
export class PeerDirectory {
  private readonly peers = new Map<number, Peer>();
  private readonly lost = new Map<number, { reason: string; remote: RemoteSessions }>();

  constructor(
    readonly self: number,
    private readonly maxMessageBytes: number,
    /** The replica prefix of this server's session ids (empty without a replica id). */
    private readonly replicaPrefix = "",
  ) {}

  /** Applies the primary's announcement. */
  update(peers: readonly PeerInfo[], lost: readonly LostWorker[]): void {
    const live = new Set<number>();
    for (const info of peers) {
      if (info.id === this.self) continue;
      live.add(info.id);
      const known = this.peers.get(info.id);
      if (known === undefined || known.info.socket !== info.socket) {
        known?.close();
        this.peers.set(info.id, new Peer(info, this.maxMessageBytes));
      }
    }
    for (const [id, peer] of this.peers) {
      if (!live.has(id)) {
        peer.close();
        this.peers.delete(id);
      }
    }
    for (const w of lost) {
      if (!this.lost.has(w.id)) this.lost.set(w.id, { reason: w.reason, remote: lostOwner(w.id, w.reason) });
    }
  }

  /** Where the session with this id lives; undefined when this worker owns it (or no worker does). */
  route(sessionId: string): Route {
    const owner = ownerOf(sessionId, this.replicaPrefix);
    if (owner === undefined || owner === this.self) return undefined;
    const peer = this.peers.get(owner);
    if (peer !== undefined) return { peer };
    const lost = this.lost.get(owner);
    return lost === undefined ? undefined : { lost: lost.reason };
  }

  /** The forwarder of the session's owner, for the RPC service and Step streams. */
  remote(sessionId: string): RemoteSessions | undefined {
    const owner = ownerOf(sessionId, this.replicaPrefix);
    if (owner === undefined || owner === this.self) return undefined;
    return this.peers.get(owner)?.remote ?? this.lost.get(owner)?.remote;
  }

  /** Closes the connections to every peer. */
  close(): void {
    for (const peer of this.peers.values()) peer.close();
    this.peers.clear();
  }
}

const statefulPaths = new Set(["/reset", "/step", "/state"]);

/**
 * OpenEnv's stateful HTTP (`OpenEnv-Session-Id`) for another worker's session:
 * the request is passed to the owner as it is and its answer sent back.
 * Mounted before OpenEnv's own routes; passes everything else on.
 */
export function sessionProxy(directory: PeerDirectory): { handle(req: ServerRequest, res: ServerResponse): boolean } {
  return {
    handle(req, res) {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      if (!statefulPaths.has(q < 0 ? url : url.slice(0, q))) return false;
      const v = req.headers["openenv-session-id"];
      const id = Array.isArray(v) ? v[0] : v;
      if (id === undefined || id === "" || id === "new") return false;
      const route = directory.route(id);
      if (route === undefined) return false;
      if ("lost" in route) {
        sendJson(res, 404, { detail: `session '${id}' was lost: ${route.lost}`, code: "not_found" });
        return true;
      }
      void proxyHttp(route.peer, req, res, `${route.peer.label}, which owns session ${id}`);
      return true;
    },
  };
}

async function proxyHttp(peer: Peer, req: ServerRequest, res: ServerResponse, owner: string): Promise<void> {
  const headers: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":") || hopHeaders.has(name)) continue;
    headers[name] = value;
  }
  for (const name of ["content-type", "content-length", "content-encoding"]) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  let upstream: http2.ClientHttp2Stream;
  try {
    upstream = await peer.connection.request(req.method ?? "GET", req.url ?? "/", headers, {});
  } catch (err) {
    req.resume();
    sendJson(res, 503, { detail: `lost the connection to ${owner}: ${ConnectError.from(err).rawMessage}`, code: "unavailable" });
    return;
  }
  upstream.on("response", (h) => {
    const out: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(h)) {
      if (value === undefined || name.startsWith(":") || (hopHeaders.has(name) && name !== "content-type" && name !== "content-length"))
        continue;
      out[name] = value;
    }
    (res as http.ServerResponse).writeHead(Number(h[":status"] ?? 502), out);
    upstream.on("data", (chunk: Buffer) => {
      peer.connection.notifyResponseByteRead(upstream);
      (res as http.ServerResponse).write(chunk);
    });
    upstream.on("end", () => res.end());
  });
  upstream.on("error", (err) => {
    if (!res.headersSent) sendJson(res, 503, { detail: `lost the connection to ${owner}: ${err.message}`, code: "unavailable" });
    else (res as http.ServerResponse).destroy();
  });
  res.on("close", () => {
    if (!upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
  });
  (req as NodeJS.ReadableStream).pipe(upstream);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  (res as http.ServerResponse).writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
