export type { ForwardedHeaders, RemoteSessions, SessionPlacement, StepRelay } from "../core/placement.js";
export { defaultSessionLimits, type SessionLimits, SessionManager, type SessionStats } from "../core/session-manager.js";
export { type OpenEnvSurface, type OpenEnvSurfaceOptions, openEnvSurface, SESSION_HEADER } from "../openenv/server/index.js";
export type {
  ClusterEnvironment,
  ClusterEvent,
  ClusterServeOptions,
  WorkerInfo,
} from "./cluster/options.js";
export { type ClusterServer, serveCluster } from "./cluster/serve-cluster.js";
export {
  type Awaitable,
  Environment,
  type EnvironmentClass,
  type EnvironmentFactory,
  type EnvironmentSource,
  type EnvironmentSpec,
  type MessageOrInit,
  type ResetOptions,
  type StepContext,
  type StepOutcome,
} from "./environment.js";
export { createEnvironmentRouter, type EnvironmentRouter, type EnvironmentRouterOptions } from "./router.js";
export * from "./rubrics/index.js";
export * from "./sandbox/index.js";
export { type EnvironmentServer, type HttpSurface, type ServeOptions, serve } from "./serve.js";
export type { WebOptions } from "./web-surface.js";
