import { pathToFileURL } from "node:url";
import type { EnvironmentFactory, EnvironmentSource, EnvironmentSpec } from "../server/environment.js";
import type { EnvInfo } from "./discovery.js";
import { ManifestError } from "./manifest.js";
import { type ResolvedModule, resolveAppModule } from "./modules.js";

/** An environment's class (or factory), imported, with where it came from. */
export interface LoadedEnvironment {
  readonly info: EnvInfo;
  readonly source: EnvironmentSource;
  readonly spec: EnvironmentSpec;
  readonly module: ResolvedModule;
}

const loaded = new Map<string, Promise<LoadedEnvironment>>();

/**
 * Imports an environment's module (once per manifest) and checks that it
 * exports the manifest's class with the manifest's message types.
 */
export function loadEnvironment(info: EnvInfo): Promise<LoadedEnvironment> {
  let p = loaded.get(info.manifestPath);
  if (p === undefined) {
    p = importEnvironment(info);
    loaded.set(info.manifestPath, p);
    p.catch(() => loaded.delete(info.manifestPath));
  }
  return p;
}

async function importEnvironment(info: EnvInfo): Promise<LoadedEnvironment> {
  const module = resolveAppModule(info.manifestPath, info.module);
  const fail = (field: string, message: string): ManifestError => {
    const pos = info.manifest.positions[field] ?? { line: 1, column: 1 };
    return new ManifestError(info.manifestPath, [{ file: info.manifestPath, ...pos, field, message, severity: "error" }]);
  };
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(module.path).href)) as Record<string, unknown>;
  } catch (err) {
    throw fail("app", `importing ${module.path} failed: ${(err as Error).message}`);
  }
  const source = exports[info.envClass];
  if (source === undefined) {
    const names = Object.keys(exports).filter((k) => hasSpec(exports[k]));
    throw fail(
      "app",
      `${module.path} has no export named '${info.envClass}'${names.length > 0 ? `; environment exports: ${names.join(", ")}` : ""}`,
    );
  }
  if (!hasSpec(source)) {
    throw fail(
      "app",
      `export '${info.envClass}' of ${module.path} is not an Environment class with a static spec (or a factory with spec and create)`,
    );
  }
  const spec = source.spec;
  for (const field of ["action", "observation", "state"] as const) {
    const got = spec[field]?.typeName;
    if (got !== info.manifest[field]) {
      throw fail(field, `the manifest says ${info.manifest[field]}, but ${info.envClass}.spec.${field} is ${got ?? "missing"}`);
    }
  }
  return { info, source: source as EnvironmentSource, spec, module };
}

function hasSpec(value: unknown): value is { spec: EnvironmentSpec } {
  if (value === null || (typeof value !== "function" && typeof value !== "object")) return false;
  const spec = (value as { spec?: unknown }).spec;
  if (spec === null || typeof spec !== "object") return false;
  if (typeof value === "object" && typeof (value as Partial<EnvironmentFactory>).create !== "function") return false;
  return true;
}
