import type { JsonObject, Message, Registry } from "@bufbuild/protobuf";
import type { Session, StepArgs, StepRecord } from "../../core/session.js";
import type { SessionManager } from "../../core/session-manager.js";
import { forwardingJsonRpc, type JsonRpcHandler } from "../../server/cluster/forwarding.js";
import type { EnvironmentSpec } from "../../server/environment.js";
import { jsonSchemasOf } from "../../server/environment-service.js";
import type { HealthStatus } from "../../server/health.js";
import type { EnvironmentRouter } from "../../server/router.js";
import { handleJsonRpc, type JsonRpcCall } from "./json-rpc.js";
import { buildOpenApi } from "./openapi.js";
import { metadataJson } from "./result-json.js";

/** Options of the OpenEnv HTTP/WebSocket surface; every field has a default. */
export interface OpenEnvSurfaceOptions {
  /**
   * `"simulation"` (default) serves HTTP `/reset`, `/step` and `/state`;
   * `"production"` leaves them out, as OpenEnv's production mode does
   * (`/ws`, `/mcp` and the info routes stay).
   */
  readonly mode?: "simulation" | "production";
  /**
   * Stateful HTTP: a `/reset` sent with `OpenEnv-Session-Id: new` opens a
   * session and returns its id (header and body); `/step` and `/state` with
   * that header use it. Default true. Without the header HTTP stays stateless.
   */
  readonly httpSessions?: boolean;
}

/** Everything the OpenEnv routes share, computed once. */
export interface OpenEnvContext {
  readonly spec: EnvironmentSpec;
  readonly manager: SessionManager;
  readonly registry: Registry;
  readonly health: HealthStatus;
  readonly maxMessageBytes: number;
  readonly mode: "simulation" | "production";
  readonly httpSessions: boolean;
  readonly schemaBody: string;
  readonly metadataBody: string;
  readonly openapiBody: string;
  /** Answers a JSON-RPC request (`/mcp`, `mcp` frames); another process's session answers for itself. */
  readonly jsonRpc: JsonRpcHandler<JsonRpcCall>;
}

/** The header of the stateful HTTP mode. */
export const SESSION_HEADER = "openenv-session-id";

export function createContext(router: EnvironmentRouter, options: OpenEnvSurfaceOptions = {}): OpenEnvContext {
  const mode = options.mode ?? "simulation";
  if (mode !== "simulation" && mode !== "production") {
    throw new RangeError(`Invalid mode: '${String(mode)}'. Must be one of: ['simulation', 'production']`);
  }
  const schemas: JsonObject = { ...jsonSchemasOf(router.spec) };
  const manager = router.sessions;
  const local: JsonRpcHandler<JsonRpcCall> = (body, call) => handleJsonRpc(manager, body, call, mode);
  const placement = router.placement;
  return {
    spec: router.spec,
    manager: router.sessions,
    registry: router.registry,
    health: router.health,
    maxMessageBytes: router.maxMessageBytes,
    mode,
    httpSessions: options.httpSessions ?? true,
    schemaBody: JSON.stringify(schemas),
    metadataBody: JSON.stringify(metadataJson(router.spec)),
    openapiBody: JSON.stringify(buildOpenApi(router.spec, mode, schemas)),
    jsonRpc: placement === undefined ? local : forwardingJsonRpc(local, placement, (id) => manager.find(id) !== undefined),
  };
}

/**
 * Steps a session, first starting an episode if it has none: OpenEnv steps a
 * fresh instance without a reset, our sessions need one.
 */
export async function stepStarted(session: Session, action: Message, args: StepArgs): Promise<StepRecord> {
  if (!session.started) await session.reset({});
  return session.step(action, args);
}
