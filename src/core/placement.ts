import type { JsonObject } from "@bufbuild/protobuf";
import type { ConnectError, HandlerContext } from "@connectrpc/connect";
import type {
  CloseSessionRequest,
  CloseSessionResponse,
  ResetRequest,
  ResetResponse,
  StateRequest,
  StateResponse,
  StepRequest,
} from "../../gen/openenv/v1/environment_service_pb.js";
import type { Capacity } from "../protocol/errors.js";
import type { ReplySink } from "./step-input.js";

/**
 * Where sessions live when one server runs as several processes
 * ({@link serveCluster}): each session belongs to the process that opened it,
 * its id says which one, calls for another process's session are forwarded
 * to it, and the session limit is shared. A single-process server has none.
 */
export interface SessionPlacement {
  /** Prefix of the ids of the sessions this process opens: it names the owner. */
  readonly idPrefix: string;
  /**
   * Takes a slot of the server-wide session limit. Returns undefined when a slot
   * was at hand; otherwise a promise of undefined (granted) or of the
   * server-wide counts (refused: the server is full).
   */
  acquireSlot(): Promise<Capacity | undefined> | undefined;
  /** Gives back the slot of a session that closed (or was never created). */
  releaseSlot(): void;
  /** The owner of a session held by another process; undefined for this process's own ids and ids of no process. */
  remote(sessionId: string): RemoteSessions | undefined;
  /** Sessions open in all processes (for Describe). */
  activeSessions(): Promise<number>;
}

/** Forwards session calls to the process that owns the session. */
export interface RemoteSessions {
  reset(req: ResetRequest, ctx: HandlerContext): Promise<ResetResponse>;
  state(req: StateRequest, ctx: HandlerContext): Promise<StateResponse>;
  closeSession(req: CloseSessionRequest, ctx: HandlerContext): Promise<CloseSessionResponse>;
  /**
   * Relays a Step stream to the owner from now on: its replies go to `out`,
   * which the relay ends or fails when the owner's side ends. An error instead
   * (e.g. the owner is gone) is answered in-band, and the stream stays as it was.
   */
  step(out: ReplySink, headers: ForwardedHeaders | undefined, sessionId: string): StepRelay | ConnectError;
  /** Answers an OpenEnv MCP JSON-RPC request (as `POST /mcp`) whose `params.session_id` names the session. */
  jsonRpc(request: JsonObject, headers: ForwardedHeaders | undefined): Promise<JsonObject>;
}

/** Request headers of a call being forwarded (credentials, `openenv-keep-session`, ...). */
export type ForwardedHeaders = Headers | Readonly<Record<string, string | string[] | undefined>>;

/** The client side of a Step stream relayed to the session's owner. */
export interface StepRelay {
  /** Forwards a request (buffered until the relay is connected). */
  send(req: StepRequest): void;
  /** The client half-closed: half-close the relay (the owner then ends the session, as for a local stream). */
  end(): void;
  /** The client went away: cancel the relay (the owner keeps the session for a resume) and fail the stream. */
  abort(cause: ConnectError): void;
  /** This process shuts down: wait for the answers to the requests already sent, then cut the relay with `cause`. */
  drain(cause: ConnectError): void;
}
