import { discoverEnvironments } from "../auto/discovery.js";
import { loadEnvironment } from "../auto/load.js";
import type { EnvironmentSource } from "../server/environment.js";

/**
 * Bundled environments by key, each loading its module only when asked for.
 *
 * Derived from the manifests (`src/envs/<name>/openenv.yaml`, declared in
 * package.json under `openenv.manifest`): to add an environment, add a folder
 * with an `environment.ts` and a manifest. Do not add entries here.
 */
export const bundledEnvironments: Readonly<Record<string, () => Promise<EnvironmentSource>>> = Object.fromEntries(
  [...discoverEnvironments({ installed: false }).environments.values()]
    .filter((info) => info.source === "bundled")
    .map((info) => [info.envKey, async () => (await loadEnvironment(info)).source]),
);
