import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where modules come from. An environment's manifest names its module as the
 * compiled file (`./environment.js`); what exists depends on how it is run:
 * a source checkout has `environment.ts` next to the manifest, a published
 * package has `dist/<same path>/environment.js` (the tsc `outDir` mirror).
 */

const selfPath = fileURLToPath(new URL(import.meta.url));

/**
 * True when this package runs from its TypeScript sources (under tsx or
 * vitest), so `.ts` files can be imported; false when it runs from `dist/`.
 */
export const runningFromSource: boolean = selfPath.endsWith(".ts");

/** The nearest directory at or above `dir` that holds a package.json. */
export function nearestPackageDir(dir: string): string | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) return undefined;
  }
}

let ownRoot: string | undefined;

/**
 * The root of the openenv-connect package this code belongs to (checkout or
 * installed copy). Found on first use, so importing the package never fails.
 */
export function packageRoot(): string {
  ownRoot ??= findOwnRoot();
  return ownRoot;
}

function findOwnRoot(): string {
  for (let d = dirname(selfPath); ; d = dirname(d)) {
    const pj = join(d, "package.json");
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, "utf8")) as { name?: string }).name === "openenv-connect") return d;
      } catch {
        // not our package.json; keep walking up
      }
    }
    if (dirname(d) === d) throw new Error(`openenv-connect: cannot find the package root above ${selfPath}`);
  }
}

/** The version of this package. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
}

/** How a module was found. */
export interface ResolvedModule {
  /** Absolute path of the file to import. */
  readonly path: string;
  /** `source`: a `.ts` file next to the manifest; `js`: the path as written; `dist`: the compiled mirror under `dist/`. */
  readonly kind: "source" | "js" | "dist";
}

/** A module named by a manifest could not be found or cannot be loaded here. */
export class ModuleResolutionError extends Error {
  override readonly name = "ModuleResolutionError";
  constructor(
    message: string,
    /** Paths that were tried, in order. */
    readonly tried: readonly string[],
  ) {
    super(message);
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * Resolves a manifest's module path (relative to the manifest's directory).
 *
 * Order: running from sources outside `node_modules`, the `.ts` source wins
 * (a checkout runs what is on disk); otherwise the compiled file as written, then
 * its `dist/` mirror in the nearest package, then (from sources only) the `.ts` file.
 */
export function resolveAppModule(manifestPath: string, module: string): ResolvedModule {
  const baseDir = dirname(resolve(manifestPath));
  const target = resolve(baseDir, module);
  const tsTarget = /\.m?js$/.test(target) ? target.replace(/\.js$/, ".ts").replace(/\.mjs$/, ".mts") : target;
  const pkgDir = nearestPackageDir(baseDir);
  const dist =
    pkgDir === undefined || relative(pkgDir, target).startsWith("..") ? undefined : join(pkgDir, "dist", relative(pkgDir, target));
  const inNodeModules = target.includes(`${sep}node_modules${sep}`);
  const candidates: Array<[ResolvedModule["kind"], string | undefined]> =
    runningFromSource && !inNodeModules
      ? [
          ["source", tsTarget.endsWith(".ts") || tsTarget.endsWith(".mts") ? tsTarget : undefined],
          ["js", target],
          ["dist", dist],
        ]
      : [
          ["js", target],
          ["dist", dist],
          ["source", runningFromSource ? tsTarget : undefined],
        ];
  const tried: string[] = [];
  for (const [kind, path] of candidates) {
    if (path === undefined || tried.includes(path)) continue;
    tried.push(path);
    if (isFile(path)) return { path, kind };
  }
  if (!runningFromSource && tsTarget !== target && isFile(tsTarget)) {
    throw new ModuleResolutionError(
      `${module} (from ${manifestPath}) exists only as TypeScript source (${tsTarget}); build the package so ${dist ?? target} exists, or run under tsx`,
      [...tried, tsTarget],
    );
  }
  throw new ModuleResolutionError(`cannot find module ${module} named by ${manifestPath}; tried ${tried.join(", ")}`, tried);
}
