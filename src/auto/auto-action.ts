import type { DescMessage } from "@bufbuild/protobuf";
import { EnvClient, type EnvTransportKind } from "../client/env-client.js";
import { type ActionClass, actionClass } from "./action-class.js";
import type { FromEnvOptions } from "./auto-env.js";
import { discoverEnvironments, type EnvInfo, environmentFromPath, findEnvironment } from "./discovery.js";
import { hubBaseUrl, hubTransport, installFromHub } from "./hub.js";
import { loadEnvironment } from "./load.js";
import { hubSpaceUrl, parseEnvReference } from "./names.js";

/** Options of {@link AutoAction.fromEnv}. */
export interface FromEnvActionOptions
  extends Pick<FromEnvOptions, "projectDir" | "trustRemoteCode" | "skipInstall" | "hubUrl" | "spaceUrl" | "prompt" | "onProgress"> {}

/** What {@link AutoAction.getActionInfo} reports. */
export interface ActionInfo {
  readonly envKey: string;
  readonly envName: string;
  readonly package: string;
  readonly actionClass: string;
  readonly observationClass: string;
  readonly stateClass: string;
  readonly actionType: string;
  /** The module exporting the environment, as the manifest writes it. */
  readonly module: string;
}

/**
 * OpenEnv's AutoAction: an environment's Action type by name.
 *
 * @example
 * ```ts
 * const EchoAction = await AutoAction.fromEnv("echo");
 * const action = new EchoAction({ message: "Hello" });
 * ```
 */
export class AutoAction {
  private constructor() {
    throw new TypeError("AutoAction is not instantiated; use AutoAction.fromEnv(name)");
  }

  /**
   * The Action type of a named environment, a Hub id (installed after a prompt), a
   * path or a URL (learned from the server's Describe). `D` types it, e.g.
   * `AutoAction.fromEnv<typeof EchoActionSchema>("echo")`; it is not checked at run time.
   */
  static async fromEnv<D extends DescMessage = DescMessage>(nameOrId: string, options: FromEnvActionOptions = {}): Promise<ActionClass<D>> {
    const ref = parseEnvReference(nameOrId);
    let info: EnvInfo;
    switch (ref.kind) {
      case "url":
        return (await actionFromServer(ref.url)) as unknown as ActionClass<D>;
      case "path":
        info = environmentFromPath(ref.path);
        break;
      case "hub":
        if (options.skipInstall === true) {
          return (await actionFromServer(options.spaceUrl ?? hubSpaceUrl(ref.repoId), hubTransport)) as unknown as ActionClass<D>;
        }
        info = await installFromHub(ref.repoId, { ...options, hubUrl: hubBaseUrl(options.hubUrl) });
        break;
      case "name":
        info = findEnvironment(ref.raw, { projectDir: options.projectDir, api: "AutoAction.fromEnv" });
        break;
    }
    return actionClass((await loadEnvironment(info)).spec.action) as unknown as ActionClass<D>;
  }

  /** Alias of {@link AutoAction.fromEnv}. */
  static fromHub<D extends DescMessage = DescMessage>(nameOrId: string, options: FromEnvActionOptions = {}): Promise<ActionClass<D>> {
    return AutoAction.fromEnv<D>(nameOrId, options);
  }

  /** Every environment's Action class name. Prints OpenEnv's table unless `print: false`. */
  static listActions(
    options: { readonly print?: boolean; readonly projectDir?: string } = {},
  ): Array<{ envKey: string; actionClass: string }> {
    const list = [...discoverEnvironments({ projectDir: options.projectDir }).environments.values()].map((e) => ({
      envKey: e.envKey,
      actionClass: e.actionClass,
    }));
    if (options.print !== false) {
      const lines = ["Available Action Classes:", "-".repeat(70), ...list.map((a) => `${a.envKey.padEnd(15)}: ${a.actionClass}`)];
      process.stdout.write(`${lines.join("\n")}\n`);
    }
    return list;
  }

  /** What discovery knows about an environment's Action (OpenEnv's `get_action_info`). */
  static getActionInfo(name: string, options: { readonly projectDir?: string } = {}): ActionInfo {
    const e = findEnvironment(name, { projectDir: options.projectDir, api: "AutoAction.getActionInfo" });
    return {
      envKey: e.envKey,
      envName: e.name,
      package: e.package,
      actionClass: e.actionClass,
      observationClass: e.observationClass,
      stateClass: e.stateClass,
      actionType: e.actionType,
      module: e.module,
    };
  }
}

async function actionFromServer(url: string, transport?: EnvTransportKind): Promise<ActionClass> {
  const client = new EnvClient({ baseUrl: url, transport });
  try {
    await client.connect();
    return actionClass(client.schemas.action);
  } finally {
    await client.close();
  }
}
