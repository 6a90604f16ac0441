export { type ActionClass, actionClass } from "./action-class.js";
export { type ActionInfo, AutoAction, AutoEnv, AutoEnvClient, type FromEnvActionOptions, type FromEnvOptions } from "./auto-env.js";
export { type BuildOptions, type BuiltImage, buildImage, defaultBaseImage, ImageBuildError } from "./build.js";
export {
  clearDiscoveryCache,
  type DiscoverOptions,
  type Discovery,
  type DiscoveryProblem,
  discoverEnvironments,
  type EnvInfo,
  type EnvSource,
  environmentFromPath,
  findEnvironment,
} from "./discovery.js";
export {
  confirmRemoteInstall,
  type HubInstallOptions,
  InstallError,
  installFromHub,
  isRemoteCodeTrusted,
  type PromptIO,
  RemoteCodeRefusedError,
  remoteCodeWarning,
} from "./hub.js";
export { type LoadedEnvironment, loadEnvironment } from "./load.js";
export {
  type EnvManifest,
  formatIssue,
  loadManifest,
  ManifestError,
  type ManifestIssue,
  type ParsedManifest,
  parseManifest,
} from "./manifest.js";
export { ModuleResolutionError, type ResolvedModule, resolveAppModule } from "./modules.js";
export {
  closeMatches,
  type EnvReference,
  hubSpaceUrl,
  normalizeEnvName,
  parseEnvReference,
  UnknownEnvironmentError,
  unknownEnvironmentMessage,
} from "./names.js";
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
