import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { type EnvManifest, loadManifest, ManifestError, type ManifestIssue } from "./manifest.js";
import { nearestPackageDir, packageRoot } from "./modules.js";
import { normalizeEnvName, UnknownEnvironmentError } from "./names.js";

/**
 * Discovery: which environments exist, read from manifests only (no module is
 * imported until an environment is used).
 *
 * Sources, first match of a key wins:
 * 0. the project itself: the nearest package.json at or above the project
 *    directory, when it is an environment package (so a new environment is
 *    found by name while it is being written);
 * 1. packages in the `node_modules` directories of the project and its parents
 *    (nearest first) that are named `openenv-*` and carry an `openenv.yaml`, or
 *    that declare manifests in package.json: `"openenv": { "manifest": "openenv.yaml" }`;
 * 2. the environments bundled with openenv-connect, declared the same way in
 *    its own package.json (`src/envs/<name>/openenv.yaml`): adding a bundled
 *    environment is adding a folder with a manifest.
 */

/** Where an environment was found. */
export type EnvSource = "project" | "installed" | "bundled" | "path";

/**
 * What discovery knows about one environment (OpenEnv's `get_env_info` dict,
 * in camelCase), without importing anything.
 */
export interface EnvInfo {
  /** Lookup key: `echo` for `echo_env`. */
  readonly envKey: string;
  /** The manifest's `name`, e.g. `echo_env`. */
  readonly name: string;
  /** npm package that carries the manifest. */
  readonly package: string;
  /** That package's version. */
  readonly packageVersion: string | undefined;
  /** That package's directory. */
  readonly packageDir: string;
  /** The environment's version (manifest, else package). */
  readonly version: string;
  readonly description: string;
  readonly source: EnvSource;
  /** Absolute path of the `openenv.yaml`. */
  readonly manifestPath: string;
  readonly manifest: EnvManifest;
  /** Name of the exported Environment class. */
  readonly envClass: string;
  /** Short names of the Action / Observation / State messages. */
  readonly actionClass: string;
  readonly observationClass: string;
  readonly stateClass: string;
  /** Full protobuf names of the Action / Observation / State messages. */
  readonly actionType: string;
  readonly observationType: string;
  readonly stateType: string;
  /** The module exporting the class, as the manifest writes it (relative to the manifest). */
  readonly module: string;
  /** Image for the Docker provider: the manifest's, else `openenv-<key>:latest`. */
  readonly defaultImage: string;
  readonly specVersion: number;
  /** Port the server uses in a container. */
  readonly port: number;
  /** Manifest warnings (unknown fields and the like). */
  readonly warnings: readonly ManifestIssue[];
}

/** Something discovery skipped, with why. */
export interface DiscoveryProblem {
  /** The manifest or package at fault. */
  readonly path: string;
  readonly message: string;
  /** Set for invalid manifests. */
  readonly error?: ManifestError;
}

/** A scan's result. */
export interface Discovery {
  /** Environments by key, sorted by key. */
  readonly environments: ReadonlyMap<string, EnvInfo>;
  /** Invalid manifests and broken packages (listed, not fatal). */
  readonly problems: readonly DiscoveryProblem[];
  /** Environments hidden by an earlier one with the same key. */
  readonly shadowed: readonly EnvInfo[];
}

/** Options of a scan. */
export interface DiscoverOptions {
  /** Project whose `node_modules` (and its parents') are scanned. Default: the working directory. */
  readonly projectDir?: string;
  /** Include the environments bundled with openenv-connect. Default true. */
  readonly bundled?: boolean;
  /** Include installed packages and the project's own package. Default true. */
  readonly installed?: boolean;
  /** Scan again even if a cached result exists. */
  readonly refresh?: boolean;
}

const cache = new Map<string, Discovery>();

/** Forgets cached scans (e.g. after installing a package). */
export function clearDiscoveryCache(): void {
  cache.clear();
}

/** Scans for environments; cached per project directory until {@link clearDiscoveryCache} or `refresh`. */
export function discoverEnvironments(options: DiscoverOptions = {}): Discovery {
  const projectDir = resolve(options.projectDir ?? process.cwd());
  const bundled = options.bundled ?? true;
  const installed = options.installed ?? true;
  const cacheKey = `${projectDir}\0${bundled}\0${installed}`;
  const cached = options.refresh === true ? undefined : cache.get(cacheKey);
  if (cached !== undefined) return cached;
  const found: EnvInfo[] = [];
  const problems: DiscoveryProblem[] = [];
  const ownRoot = realpath(packageRoot());
  const seenPackages = new Set<string>();
  const project = installed ? nearestPackageDir(projectDir) : undefined;
  if (project !== undefined && realpath(project) !== ownRoot && !project.split(sep).includes("node_modules")) {
    seenPackages.add(realpath(project));
    scanPackage(project, "project", found, problems);
  }
  for (const nodeModules of installed ? nodeModulesDirs(projectDir) : []) {
    for (const dir of packageDirs(nodeModules)) {
      const real = realpath(dir);
      // Another copy of openenv-connect (e.g. a project's own dependency) bundles the same
      // environments as this one, maybe older: the running copy's bundled ones win.
      if (seenPackages.has(real) || real === ownRoot || basename(dir) === "openenv-connect") continue;
      seenPackages.add(real);
      scanPackage(dir, "installed", found, problems);
    }
  }
  if (bundled) scanPackage(packageRoot(), "bundled", found, problems);
  const environments = new Map<string, EnvInfo>();
  const shadowed: EnvInfo[] = [];
  for (const info of found) {
    if (environments.has(info.envKey)) shadowed.push(info);
    else environments.set(info.envKey, info);
  }
  const sorted = new Map([...environments].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const result: Discovery = { environments: sorted, problems, shadowed };
  cache.set(cacheKey, result);
  return result;
}

/**
 * The environment a name refers to (`echo`, `echo-env`, `echo_env`, `echo:latest`, `openenv-echo`).
 * Throws {@link UnknownEnvironmentError} (OpenEnv's message, with suggestions), or the
 * {@link ManifestError} of a package whose manifest is broken.
 */
export function findEnvironment(name: string, options: DiscoverOptions & { readonly api?: string } = {}): EnvInfo {
  const key = normalizeEnvName(name);
  const discovery = discoverEnvironments(options);
  const info = discovery.environments.get(key);
  if (info !== undefined) return info;
  const broken = discovery.problems.find((p) => p.error !== undefined && manifestKey(p.path) === key);
  if (broken?.error !== undefined) throw broken.error;
  throw new UnknownEnvironmentError(key, [...discovery.environments.keys()], options.api);
}

/** Describes the environment whose manifest is at `path` (a directory holding `openenv.yaml`, or the file). */
export function environmentFromPath(path: string): EnvInfo {
  const abs = resolve(path);
  const manifestPath = existsSync(abs) && statSync(abs).isDirectory() ? join(abs, "openenv.yaml") : abs;
  const pkgDir = nearestPackageDir(dirname(manifestPath)) ?? dirname(manifestPath);
  const pkg = readPackageJson(pkgDir);
  return describe(manifestPath, pkgDir, pkg, "path");
}

function manifestKey(path: string): string | undefined {
  try {
    const text = readFileSync(path, "utf8");
    const m = /^name:\s*["']?([\w-]+)/m.exec(text);
    return m === null ? undefined : normalizeEnvName(m[1]!);
  } catch {
    return undefined;
  }
}

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly openenv?: { readonly manifest?: string | readonly string[] };
}

function readPackageJson(dir: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;
  } catch {
    return undefined;
  }
}

function scanPackage(dir: string, source: EnvSource, found: EnvInfo[], problems: DiscoveryProblem[]): void {
  const pkg = readPackageJson(dir);
  if (pkg === undefined) return;
  const declared = pkg.openenv?.manifest;
  let patterns: readonly string[];
  if (declared !== undefined) {
    patterns = typeof declared === "string" ? [declared] : declared;
  } else if (pkg.name?.startsWith("openenv-") === true && existsSync(join(dir, "openenv.yaml"))) {
    patterns = ["openenv.yaml"];
  } else {
    return;
  }
  let matched = 0;
  for (const pattern of patterns) {
    for (const manifestPath of expand(dir, pattern)) {
      matched++;
      try {
        found.push(describe(manifestPath, dir, pkg, source));
      } catch (err) {
        if (err instanceof ManifestError) problems.push({ path: manifestPath, message: err.message, error: err });
        else problems.push({ path: manifestPath, message: (err as Error).message });
      }
    }
  }
  if (matched === 0) {
    problems.push({
      path: join(dir, "package.json"),
      message: `package ${pkg.name ?? dir} declares manifest ${patterns.join(", ")} but no such file exists`,
    });
  }
}

function describe(manifestPath: string, packageDir: string, pkg: PackageJson | undefined, source: EnvSource): EnvInfo {
  const { manifest, warnings } = loadManifest(manifestPath);
  const short = (full: string): string => full.slice(full.lastIndexOf(".") + 1);
  const envKey = normalizeEnvName(manifest.name);
  return {
    envKey,
    name: manifest.name,
    package: pkg?.name ?? basename(packageDir),
    packageVersion: pkg?.version,
    packageDir,
    version: manifest.version ?? pkg?.version ?? "0.0.0",
    description: manifest.description ?? `${manifest.name} environment`,
    source,
    manifestPath,
    manifest,
    envClass: manifest.app.exportName,
    actionClass: short(manifest.action),
    observationClass: short(manifest.observation),
    stateClass: short(manifest.state),
    actionType: manifest.action,
    observationType: manifest.observation,
    stateType: manifest.state,
    module: manifest.app.module,
    defaultImage: manifest.defaultImage ?? `openenv-${envKey.replace(/_/g, "-")}:latest`,
    specVersion: manifest.specVersion,
    port: manifest.port,
    warnings,
  };
}

/** Expands a package-relative path whose segments may contain `*`. */
function expand(dir: string, pattern: string): string[] {
  let paths = [dir];
  for (const segment of pattern.split("/").filter((s) => s !== "" && s !== ".")) {
    const next: string[] = [];
    for (const base of paths) {
      if (!segment.includes("*")) {
        const p = join(base, segment);
        if (existsSync(p)) next.push(p);
        continue;
      }
      const re = new RegExp(`^${segment.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}$`);
      let entries: string[];
      try {
        entries = readdirSync(base).sort();
      } catch {
        continue;
      }
      for (const e of entries) if (re.test(e)) next.push(join(base, e));
    }
    paths = next;
  }
  return paths.filter((p) => {
    try {
      return statSync(p).isFile();
    } catch {
      return false;
    }
  });
}

/** `node_modules` directories that Node's resolution would search from `dir`, nearest first. */
function nodeModulesDirs(dir: string): string[] {
  const out: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    if (basename(d) !== "node_modules") {
      const nm = join(d, "node_modules");
      if (existsSync(nm)) out.push(nm);
    }
    if (dirname(d) === d) return out;
  }
}

function packageDirs(nodeModules: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(nodeModules).sort();
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.startsWith(".")) continue;
    if (e.startsWith("@")) {
      let scoped: string[] = [];
      try {
        scoped = readdirSync(join(nodeModules, e)).sort();
      } catch {
        // unreadable scope: skip it
      }
      for (const s of scoped) out.push(join(nodeModules, e, s));
    } else {
      out.push(join(nodeModules, e));
    }
  }
  return out;
}

function realpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
