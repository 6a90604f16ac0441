/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/internal`: building blocks for libraries and tools built on
 * openenv-connect (and for this repository's tests).
 *
 * @private Internal code: these symbols do not follow semantic versioning and
 * may change in any release. Applications use `openenv-connect` and its other
 * entry points.
 *
 * @module
 */
export { type ActionClass, actionClass } from "./auto/action-class.js";
export { environmentFromPath, findEnvironment } from "./auto/discovery.js";
export { confirmRemoteInstall, isRemoteCodeTrusted, remoteCodeWarning } from "./auto/hub.js";
export { type LoadedEnvironment, loadEnvironment } from "./auto/load.js";
export { formatIssue } from "./auto/manifest.js";
export { type ResolvedModule, resolveAppModule } from "./auto/modules.js";
export {
  closeMatches,
  type EnvReference,
  hubSpaceUrl,
  normalizeEnvName,
  parseEnvReference,
  unknownEnvironmentMessage,
} from "./auto/names.js";
export type { EnvBackend } from "./client/backend.js";
export { speaksHttp2 } from "./client/http2-probe.js";
export type { ForwardedHeaders, RemoteSessions, SessionPlacement, StepRelay } from "./core/placement.js";
export { defaultSessionLimits, SessionManager } from "./core/session-manager.js";
export { defaultPackage, loadTypes, MessageCodec } from "./gateway/generate.js";
export { type OpenEnvSurface, openEnvSurface, SESSION_HEADER } from "./openenv/server/index.js";
export { type Capacity, capacityMessage } from "./protocol/errors.js";
export { parseJudgeScore, renderTemplate, toPromptJson } from "./server/rubrics/llm-judge.js";
export { defaultRubricContext, isPromiseLike } from "./server/rubrics/rubric.js";
export * from "./server/sandbox/index.js";
