import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EnvClient, type EnvClientOptions, type EnvClientSpec, type EnvTransportKind } from "../client/env-client.js";
import type { EnvironmentSource } from "../server/environment.js";
import { discoverEnvironments, type EnvInfo, environmentFromPath, findEnvironment } from "./discovery.js";
import { hubBaseUrl, hubTransport, installFromHub, type PromptIO } from "./hub.js";
import { loadEnvironment } from "./load.js";
import { hubSpaceUrl, parseEnvReference } from "./names.js";
import { startDocker } from "./providers/docker.js";
import { probeHealth } from "./providers/health.js";
import { startInMemory, startInProcess } from "./providers/in-process.js";
import { startProcess } from "./providers/process.js";
import type { ProviderName, RunningEnvironment } from "./providers/types.js";

// AutoAction lives in auto-action.ts; this module still exports it, as it did before the split.
export { type ActionInfo, AutoAction, type FromEnvActionOptions } from "./auto-action.js";

/** Options of {@link AutoEnv.fromEnv}. */
export interface FromEnvOptions<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
> {
  /** How to run a local environment. Default `process` (a child node process); `docker` when `dockerImage` is set. */
  readonly provider?: Exclude<ProviderName, "url">;
  /** Connect to this running server instead of starting one (OpenEnv's `base_url`). */
  readonly baseUrl?: string;
  /** Image for the Docker provider (overrides the manifest's `default_image`). */
  readonly dockerImage?: string;
  /** How long to wait for a started server to be healthy. Default 30 s. */
  readonly waitTimeoutMs?: number;
  /** Environment variables of the server process or container. */
  readonly envVars?: Readonly<Record<string, string>>;
  /** Host port for a started server. Default: a free one. */
  readonly port?: number;
  /** Session limits of a started server. */
  readonly maxSessions?: number;
  readonly idleTimeoutMs?: number;
  /** Install Hub code without asking (also `OPENENV_TRUST_REMOTE_CODE=1`). */
  readonly trustRemoteCode?: boolean;
  /** For a Hub id: do not install its package; connect to the running Space only. */
  readonly skipInstall?: boolean;
  /** Project whose packages are discovered and into which Hub packages are installed. Default: the working directory. */
  readonly projectDir?: string;
  /** Hub base URL (default `OPENENV_HUB_URL` or https://huggingface.co). */
  readonly hubUrl?: string;
  /** URL of a Hub id's Space (default `https://<user>-<name>.hf.space`). */
  readonly spaceUrl?: string;
  /** Terminal for the remote-code prompt. */
  readonly prompt?: PromptIO;
  /** Progress of long waits (server start, install). */
  readonly onProgress?: (message: string) => void;
  /** Generated schemas, for a typed client (otherwise learned from the server's Describe). */
  readonly spec?: EnvClientSpec<A, O, S>;
  /** Client options: protocol, interceptors, headers, step deadline. */
  readonly client?: Omit<EnvClientOptions<A, O, S>, "baseUrl" | "router" | "spec">;
}

/** An {@link EnvClient} that also owns the server a provider started for it: `close()` stops both. */
export class AutoEnvClient<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> extends EnvClient<A, O, S, P> {
  constructor(
    options: EnvClientOptions<A, O, S, P>,
    /** The server behind this client and how it was started. */
    readonly running: RunningEnvironment,
    /** What discovery knows about the environment (undefined for bare URLs). */
    readonly envInfo: EnvInfo | undefined,
  ) {
    super(options);
  }

  /** Ends the session, then stops the server if a provider started one. */
  override async close(): Promise<void> {
    try {
      await super.close();
    } finally {
      await this.running.stop();
    }
  }
}

function connectOnly(url: string): RunningEnvironment {
  return { provider: "url", baseUrl: url.replace(/\/+$/, ""), stop: async () => {} };
}

/**
 * OpenEnv's AutoEnv: name an environment, get a connected client.
 *
 * @example
 * ```ts
 * const env = await AutoEnv.fromEnv("echo");
 * const EchoAction = await AutoAction.fromEnv("echo");
 * await env.reset();
 * const result = await env.step(new EchoAction({ message: "Hello" }));
 * await env.close();
 * ```
 */
export class AutoEnv {
  private constructor() {
    throw new TypeError("AutoEnv is not instantiated; use AutoEnv.fromEnv(name)");
  }

  /**
   * A connected client of the named environment.
   * - a name (`echo`, `echo-env`, `echo_env`, `echo-env:latest`): starts it with a provider;
   * - a URL (`http://host:port`): connects to it;
   * - a Hub id (`user/env`): installs its package (after a prompt) and connects to
   *   `https://user-env.hf.space`, or runs it locally if the Space is down;
   * - a path (`./my-env`): starts the environment whose manifest is there.
   *
   * Unknown names throw {@link UnknownEnvironmentError} with OpenEnv's message.
   */
  static async fromEnv<A extends DescMessage = DescMessage, O extends DescMessage = DescMessage, S extends DescMessage = DescMessage>(
    nameOrIdOrUrl: string,
    options: FromEnvOptions<A, O, S> = {},
  ): Promise<AutoEnvClient<A, O, S>> {
    const ref = parseEnvReference(nameOrIdOrUrl);
    switch (ref.kind) {
      case "url":
        return connect(connectOnly(ref.url), undefined, options);
      case "path":
        return startAndConnect(environmentFromPath(ref.path), options);
      case "hub": {
        const spaceUrl = options.spaceUrl ?? hubSpaceUrl(ref.repoId);
        if (options.skipInstall === true) return connect(connectOnly(spaceUrl), undefined, options, hubTransport);
        options.onProgress?.(`checking ${spaceUrl}`);
        const up = await probeHealth(spaceUrl, 5_000);
        const info = await installFromHub(ref.repoId, {
          trustRemoteCode: options.trustRemoteCode,
          projectDir: options.projectDir,
          hubUrl: hubBaseUrl(options.hubUrl),
          prompt: options.prompt,
          onProgress: options.onProgress,
        });
        if (up) return connect(connectOnly(spaceUrl), info, options, hubTransport);
        options.onProgress?.(`${spaceUrl} is not reachable; running ${info.envKey} locally`);
        return startAndConnect(info, options);
      }
      case "name": {
        const info = findEnvironment(ref.raw, { projectDir: options.projectDir, api: "AutoEnv.fromEnv" });
        if (options.baseUrl !== undefined) return connect(connectOnly(options.baseUrl), info, options);
        return startAndConnect(info, options);
      }
    }
  }

  /** Alias of {@link AutoEnv.fromEnv} (OpenEnv's `from_hub`). */
  static fromHub<A extends DescMessage = DescMessage, O extends DescMessage = DescMessage, S extends DescMessage = DescMessage>(
    nameOrId: string,
    options: FromEnvOptions<A, O, S> = {},
  ): Promise<AutoEnvClient<A, O, S>> {
    return AutoEnv.fromEnv(nameOrId, options);
  }

  /**
   * Every discovered environment. Prints OpenEnv's table (`Available Environments:`)
   * unless `print: false`.
   */
  static listEnvironments(options: { readonly print?: boolean; readonly projectDir?: string } = {}): EnvInfo[] {
    const envs = [...discoverEnvironments({ projectDir: options.projectDir }).environments.values()];
    if (options.print !== false) {
      const lines = ["Available Environments:", "-".repeat(70)];
      for (const e of envs) lines.push(`${e.envKey.padEnd(15)}: ${e.description} (v${e.version})`);
      if (envs.length === 0) lines.push("(none found)");
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return envs;
  }

  /** What discovery knows about an environment (OpenEnv's `get_env_info`), without importing it. */
  static getEnvInfo(name: string, options: { readonly projectDir?: string } = {}): EnvInfo {
    return findEnvironment(name, { projectDir: options.projectDir, api: "AutoEnv.getEnvInfo" });
  }

  /** The environment's class (imported now), e.g. to serve it yourself or run it in process. */
  static async getEnvClass(name: string, options: { readonly projectDir?: string } = {}): Promise<EnvironmentSource> {
    return (await loadEnvironment(AutoEnv.getEnvInfo(name, options))).source;
  }
}

async function startAndConnect<A extends DescMessage, O extends DescMessage, S extends DescMessage>(
  info: EnvInfo,
  options: FromEnvOptions<A, O, S>,
): Promise<AutoEnvClient<A, O, S>> {
  const provider = options.provider ?? (options.dockerImage !== undefined ? "docker" : "process");
  const common = {
    port: options.port,
    maxSessions: options.maxSessions,
    idleTimeoutMs: options.idleTimeoutMs,
    waitTimeoutMs: options.waitTimeoutMs,
    envVars: options.envVars,
    onProgress: options.onProgress,
  };
  let running: RunningEnvironment;
  switch (provider) {
    case "process":
      running = await startProcess(info.manifestPath, common);
      break;
    case "docker":
      running = await startDocker(options.dockerImage ?? info.defaultImage, { ...common, sandboxed: info.manifest.sandbox !== undefined });
      break;
    case "in-process":
      running = await startInProcess((await loadEnvironment(info)).source, common);
      break;
    case "memory":
      running = startInMemory((await loadEnvironment(info)).source, common);
      break;
  }
  return connect(running, info, options);
}

async function connect<A extends DescMessage, O extends DescMessage, S extends DescMessage>(
  running: RunningEnvironment,
  info: EnvInfo | undefined,
  options: FromEnvOptions<A, O, S>,
  transport?: EnvTransportKind,
): Promise<AutoEnvClient<A, O, S>> {
  const clientOptions: EnvClientOptions<A, O, S> = {
    ...options.client,
    transport: running.router !== undefined && running.baseUrl === undefined ? "in-process" : (options.client?.transport ?? transport),
    baseUrl: running.baseUrl,
    router: running.router,
    spec: options.spec,
  };
  const client = new AutoEnvClient<A, O, S>(clientOptions, running, info);
  try {
    await client.connect();
    const served = client.info?.actionType;
    if (info !== undefined && served !== undefined && served !== info.actionType) {
      throw new ConnectError(
        `${running.baseUrl ?? "the server"} serves ${served}, but environment '${info.envKey}' uses ${info.actionType}`,
        Code.FailedPrecondition,
      );
    }
    return client;
  } catch (err) {
    await client.close().catch(() => {});
    throw err;
  }
}
