/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/server`: write an environment and serve it.
 *
 * The user API only; the session manager, the OpenEnv HTTP/WS surface and
 * other building blocks are in `openenv-connect/internal`.
 *
 * @module
 */

export type { SessionLimits, SessionStats } from "../core/session-manager.js";
export type { OpenEnvSurfaceOptions } from "../openenv/server/context.js";
export type { AuthOptions, HeaderReader } from "./auth.js";
export type {
  ClusterEnvironment,
  ClusterEvent,
  ClusterServeOptions,
  WorkerInfo,
} from "./cluster/options.js";
export { type ClusterServer, serveCluster } from "./cluster/serve-cluster.js";
export type { CorsOptions } from "./cors.js";
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
export type { McpSurfaceOptions } from "./mcp/streamable-http.js";
export { createEnvironmentRouter, type EnvironmentRouter, type EnvironmentRouterOptions } from "./router.js";
export {
  type DiscountingOptions,
  defaultJudgeTemplate,
  ExponentialDiscountingTrajectoryRubric,
  evaluateRubric,
  FunctionRubric,
  Gate,
  type JudgeVerdict,
  LLMJudge,
  type LLMJudgeOptions,
  type MaybePromise,
  type PostHook,
  type PreHook,
  Rubric,
  type RubricChildren,
  type RubricContext,
  RubricDict,
  RubricList,
  type RubricNode,
  type RubricResult,
  rubric,
  Sequential,
  TrajectoryRubric,
  type TrajectoryStep,
  WeightedSum,
  type WeightedSumOptions,
} from "./rubrics/index.js";
export {
  configureSandboxes,
  encodeFrame,
  FrameError,
  FrameReader,
  Sandbox,
  SandboxUnavailableError,
  sandboxReport,
} from "./sandbox/index.js";
export type { EnvironmentServer, HttpSurface, ServeOptions, ServerRequest, ServerResponse } from "./serve.js";
export { serve } from "./serve.js";
export {
  type CallToolResult,
  DEFAULT_TOOL_TIMEOUT_S,
  defineTool,
  imageContent,
  type JsonToolInit,
  McpEnvironment,
  type ProtoToolInit,
  RESERVED_TOOL_NAMES,
  type ServerMode,
  type ToolContext,
  type ToolDefinition,
  type ToolEnvironmentSpec,
  type ToolEnvironmentSpecInit,
  ToolError,
  type ToolErrorKind,
  type ToolReturn,
  textContent,
  toolEnvironmentSpec,
  toolResult,
} from "./tools/index.js";
export type { WebOptions } from "./web-surface.js";
