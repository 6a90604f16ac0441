/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/auto`: environments by name (OpenEnv's `AutoEnv` and
 * `AutoAction`), their manifests, discovery, Hub installs and the providers
 * that start their servers.
 *
 * @module
 */
export type { ActionClass } from "./action-class.js";
export { type ActionInfo, AutoAction, type FromEnvActionOptions } from "./auto-action.js";
export { AutoEnv, AutoEnvClient, type FromEnvOptions } from "./auto-env.js";
export { type BuildOptions, type BuiltImage, buildImage, defaultBaseImage, ImageBuildError } from "./build.js";
export {
  clearDiscoveryCache,
  type DiscoverOptions,
  type Discovery,
  type DiscoveryProblem,
  discoverEnvironments,
  type EnvInfo,
  type EnvSource,
} from "./discovery.js";
export { type HubInstallOptions, InstallError, installFromHub, type PromptIO, RemoteCodeRefusedError } from "./hub.js";
export {
  type EnvManifest,
  loadManifest,
  ManifestError,
  type ManifestIssue,
  type ParsedManifest,
  parseManifest,
} from "./manifest.js";
export { ModuleResolutionError } from "./modules.js";
export { UnknownEnvironmentError } from "./names.js";
export {
  checkDocker,
  DockerImageMissingError,
  type DockerLimits,
  type DockerProviderOptions,
  DockerUnavailableError,
  startDocker,
} from "./providers/docker.js";
export { type HealthWaitOptions, probeHealth, ServerStartError, waitForHealthy } from "./providers/health.js";
export { startInMemory, startInProcess } from "./providers/in-process.js";
export { type ProcessProviderOptions, startProcess } from "./providers/process.js";
export type { ProviderName, ProviderStartOptions, RunningEnvironment } from "./providers/types.js";
