// Several processes (serveCluster): calls for a session another worker owns are
// forwarded to it. These wrappers put that around the session core once, for
// each kind of entry point; the handlers inside never ask where a session lives.
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { EnvironmentService, StepRequest } from "../../../gen/openenv/v1/environment_service_pb.js";
import type { ForwardedHeaders, SessionPlacement, StepRelay } from "../../core/placement.js";
import type { ReplySink, StepInput } from "../../core/step-input.js";
import { errorReply } from "../../core/step-messages.js";
import type { StepStream } from "../../core/step-stream.js";

/** The unary RPCs for another worker's session go to the owner; Describe counts the sessions of every worker. */
export function forwardingService(
  local: ServiceImpl<typeof EnvironmentService>,
  placement: SessionPlacement,
): ServiceImpl<typeof EnvironmentService> {
  return {
    ...local,
    reset(req, ctx) {
      const remote = req.sessionId === "" ? undefined : placement.remote(req.sessionId);
      return remote !== undefined ? remote.reset(req, ctx) : local.reset(req, ctx);
    },
    state(req, ctx) {
      const remote = placement.remote(req.sessionId);
      return remote !== undefined ? remote.state(req, ctx) : local.state(req, ctx);
    },
    closeSession(req, ctx) {
      const remote = req.sessionId === "" ? undefined : placement.remote(req.sessionId);
      return remote !== undefined ? remote.closeSession(req, ctx) : local.closeSession(req, ctx);
    },
    async describe(req, ctx) {
      const [res, active] = await Promise.all([local.describe(req, ctx), placement.activeSessions()]);
      if (res.limits !== undefined) res.limits.activeSessions = active;
      return res;
    },
  };
}

/** A JSON-RPC handler (OpenEnv's `/mcp`), given the request and where it came from. */
export type JsonRpcHandler<C extends { readonly headers?: ForwardedHeaders | undefined }> = (body: unknown, call: C) => Promise<JsonObject>;

/** A JSON-RPC request whose `params.session_id` names another worker's session is answered by the owner. */
export function forwardingJsonRpc<C extends { readonly headers?: ForwardedHeaders | undefined }>(
  local: JsonRpcHandler<C>,
  placement: SessionPlacement,
  isLocal: (id: string) => boolean,
): JsonRpcHandler<C> {
  return (body, call) => {
    const params = typeof body === "object" && body !== null ? (body as { params?: unknown }).params : undefined;
    const id = typeof params === "object" && params !== null ? (params as { session_id?: unknown }).session_id : undefined;
    if (typeof id === "string" && !isLocal(id)) {
      const remote = placement.remote(id);
      if (remote !== undefined) return remote.jsonRpc(body as JsonObject, call.headers);
    }
    return local(body, call);
  };
}

/**
 * A Step stream that, until it holds a session of its own, watches for a request
 * naming another worker's session: from then on every request is relayed to the
 * owner, which attaches the session there and answers.
 */
export class ForwardingStepStream implements StepInput {
  private relay: StepRelay | undefined;
  private done = false;

  constructor(
    private readonly local: StepStream,
    private readonly placement: SessionPlacement,
    private readonly out: ReplySink,
    private readonly headers: ForwardedHeaders | undefined,
  ) {}

  feed(req: StepRequest): void {
    if (this.done) return;
    if (this.relay !== undefined) {
      this.relay.send(req);
      return;
    }
    if (!this.local.bound) {
      const id = targetSession(req);
      const remote = id === "" ? undefined : this.placement.remote(id);
      if (remote !== undefined) {
        const relay = remote.step(this.out, this.headers, id);
        if (relay instanceof ConnectError) {
          // The owner cannot be reached: answered in-band, and the stream stays as it was.
          this.out.push({
            $typeName: "openenv.v1.StepResponse",
            requestId: req.requestId,
            sessionId: "",
            kind: errorReply(relay),
            replayed: false,
          });
        } else {
          this.relay = relay;
          relay.send(req);
        }
        return;
      }
    }
    this.local.feed(req);
  }

  finish(): void {
    if (this.relay === undefined) {
      this.local.finish();
    } else if (!this.done) {
      this.done = true;
      this.relay.end();
    }
  }

  abort(reason: unknown): void {
    if (this.relay === undefined) {
      this.local.abort(reason);
    } else if (!this.done) {
      this.done = true;
      const cause = ConnectError.from(reason, Code.Internal);
      // Shutting down: the owner still answers what was sent; otherwise the client went away.
      if (cause.code === Code.Unavailable) this.relay.drain(cause);
      else this.relay.abort(cause);
    }
  }
}

/** The session a request names, if any: its own `session_id`, or its reset's. */
function targetSession(req: StepRequest): string {
  if (req.sessionId !== "") return req.sessionId;
  return req.command.case === "reset" ? req.command.value.sessionId : "";
}
