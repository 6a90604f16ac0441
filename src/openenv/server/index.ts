import type { EnvironmentRouter } from "../../server/router.js";
import type { HttpSurface } from "../../server/serve.js";
import { createContext, type OpenEnvSurfaceOptions } from "./context.js";
import { OpenEnvHttpRoutes } from "./http-routes.js";
import { OpenEnvWebSockets } from "./websockets.js";

export type { OpenEnvSurfaceOptions } from "./context.js";
export { SESSION_HEADER } from "./context.js";

/** The OpenEnv surface, with its WebSocket connections exposed for tests and metrics. */
export interface OpenEnvSurface extends HttpSurface {
  /** Open `/ws` and `/mcp` WebSocket connections. */
  readonly webSocketConnections: number;
}

/**
 * OpenEnv's own wire protocol on the server's port: HTTP `/reset` `/step`
 * `/state` `/metadata` `/health` `/schema` `/openapi.json` `/mcp` and the
 * WebSockets `/ws` and `/mcp`, over the same sessions, limits and validation
 * as the Connect service. `serve()` mounts it by default.
 *
 * @example
 * ```ts
 * const server = await serve(EchoEnvironment, { openenv: { mode: "production" } });
 * ```
 */
export function openEnvSurface(router: EnvironmentRouter, options: OpenEnvSurfaceOptions = {}): OpenEnvSurface {
  const ctx = createContext(router, options);
  const routes = new OpenEnvHttpRoutes(ctx);
  const sockets = new OpenEnvWebSockets(ctx);
  return {
    handle: (req, res) => routes.handle(req, res),
    upgrade: (req, socket, head) => sockets.upgrade(req, socket, head),
    close: (reason) => sockets.close(reason),
    get webSocketConnections() {
      return sockets.size;
    },
  };
}
