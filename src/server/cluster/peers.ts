// A worker's view of the other workers: who serves, who is gone, and how calls
// for their sessions are forwarded to them over their private unix sockets.
import type * as http2 from "node:http2";
import * as net from "node:net";
import type { JsonObject } from "@bufbuild/protobuf";
import { type Client, ConnectError, createClient, type HandlerContext } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EnvironmentService } from "../../../gen/openenv/v1/environment_service_pb.js";
import type { ForwardedHeaders, RemoteSessions } from "../../core/placement.js";
import { JsonRpcCode, jsonRpcError } from "../../openenv/server/json-rpc.js";
import { sessionLostError } from "../../protocol/errors.js";
import { forwardedHeaders } from "./forwarded-headers.js";
import { type LostWorker, ownerOf, type PeerInfo } from "./messages.js";
import { GrpcStepRelay, relayError } from "./step-relay.js";

function callOptions(ctx: HandlerContext) {
  return { headers: forwardedHeaders(ctx.requestHeader), signal: ctx.signal, timeoutMs: ctx.timeoutMs() };
}

/** A live peer worker: one HTTP/2 connection to its unix socket carries every forwarded call. */
export class Peer {
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
