// `openenv build`: a Docker image of an environment package, made offline. The
// runtime (this package and its production dependencies) and the environment's
// package are copied from this installation into the build context; nothing is
// fetched but the base image (which must be present, or pullable).
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import type { EnvInfo } from "./discovery.js";
import { packageRoot, packageVersion } from "./modules.js";
import { checkDocker, DockerUnavailableError } from "./providers/docker.js";

/** Default base image: it needs `node` (22 or later); python3 and bubblewrap are added for sandboxed environments. */
export const defaultBaseImage = "node:22-bookworm-slim";

/** Options of {@link buildImage}. */
export interface BuildOptions {
  /** Image tag. Default: the manifest's `default_image` (`openenv-<key>:latest`). */
  readonly tag?: string;
  /** Base image. Default `OPENENV_BASE_IMAGE`, else {@link defaultBaseImage}. */
  readonly base?: string;
  /** The docker command. Default `docker`. */
  readonly command?: string;
  /** Build output, line by line. */
  readonly onOutput?: (line: string) => void;
}

/** What was built. */
export interface BuiltImage {
  readonly tag: string;
  /** `generated` (a Dockerfile written for the package) or `package` (the package's own Dockerfile). */
  readonly dockerfile: "generated" | "package";
  readonly durationMs: number;
}

/** A build that did not succeed; the message ends with the tail of docker's output. */
export class ImageBuildError extends Error {
  override readonly name = "ImageBuildError";
}

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

function readJson(file: string): PackageJson {
  return JSON.parse(readFileSync(file, "utf8")) as PackageJson;
}

/** The directory of installed package `name` as Node would find it from `from` (walking up node_modules). */
function findInstalled(name: string, from: string): string | undefined {
  for (let d = from; ; d = dirname(d)) {
    const candidate = join(d, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Copies the production dependencies of the packages in `roots` (and theirs) into
 * `nodeModules`, flat where versions agree and nested where they do not, as npm
 * lays them out. `skip` names packages provided otherwise.
 */
function copyDependencies(roots: readonly string[], nodeModules: string, skip: ReadonlySet<string>): void {
  const placed = new Map<string, string>(); // name -> version at the top level
  const visit = (from: string, into: string, depth: number): void => {
    const pj = readJson(join(from, "package.json"));
    const deps = { ...pj.optionalDependencies, ...pj.dependencies };
    for (const name of Object.keys(deps)) {
      if (skip.has(name)) continue;
      const dir = findInstalled(name, from);
      if (dir === undefined) {
        if (pj.optionalDependencies?.[name] !== undefined) continue;
        throw new ImageBuildError(`${pj.name ?? from} needs ${name}, which is not installed: run npm install first`);
      }
      const version = readJson(join(dir, "package.json")).version ?? "";
      let target: string;
      const top = placed.get(name);
      if (top === undefined) {
        target = join(nodeModules, name);
        placed.set(name, version);
      } else if (top === version) {
        continue;
      } else {
        target = join(into, "node_modules", name);
        if (existsSync(target)) continue;
      }
      if (depth > 50) throw new ImageBuildError(`dependency chain too deep at ${name}`);
      cpSync(dir, target, {
        recursive: true,
        dereference: true,
        filter: (src) => !src.slice(dir.length).split(sep).includes("node_modules"),
      });
      visit(dir, target, depth + 1);
    }
  };
  for (const root of roots) visit(root, join(nodeModules, ".."), 0);
}

/** The files of this package an image needs: what `npm pack` would ship (see package.json "files"). */
function copyRuntime(target: string): void {
  const root = packageRoot();
  if (!existsSync(join(root, "dist", "src", "cli", "main.js"))) {
    throw new ImageBuildError(`${root} has no dist/: run 'npm run build' first (the image runs the compiled JavaScript)`);
  }
  mkdirSync(target, { recursive: true });
  cpSync(join(root, "package.json"), join(target, "package.json"));
  for (const dir of ["bin", "dist", "proto"]) cpSync(join(root, dir), join(target, dir), { recursive: true, dereference: true });
  cpSync(join(root, "src", "envs"), join(target, "src", "envs"), {
    recursive: true,
    filter: (src) => !/\.(ts|tsx)$/.test(src) && !src.includes(`${sep}__pycache__`),
  });
}

function dockerfile(base: string, info: EnvInfo, target: string): string {
  const sandboxed = info.manifest.sandbox !== undefined;
  return [
    "# Generated by `openenv build`: the runtime and the environment come from the build context.",
    `ARG BASE=${base}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile variable, not a template
    "FROM ${BASE}",
    ...(sandboxed
      ? [
          "# The environment runs untrusted code in bubblewrap sandboxes (its manifest has a sandbox section).",
          "RUN if ! command -v python3 >/dev/null || ! command -v bwrap >/dev/null; then \\",
          "      apt-get update && apt-get install -y --no-install-recommends python3 bubblewrap && rm -rf /var/lib/apt/lists/*; fi",
        ]
      : []),
    "COPY app /opt/app",
    "WORKDIR /opt/app",
    `ENV NODE_ENV=production OPENENV_HOST=0.0.0.0 OPENENV_PORT=${info.port}`,
    `EXPOSE ${info.port}`,
    `LABEL org.opencontainers.image.title="${info.envKey}" openenv-connect.env="${info.envKey}" openenv-connect.version="${packageVersion()}"`,
    `CMD ["node", "/opt/app/node_modules/openenv-connect/bin/openenv.js", "serve", ${JSON.stringify(target)}]`,
    "",
  ].join("\n");
}

/** Runs a command, passing its output on line by line; resolves to its exit code and the output's tail. */
function run(command: string, args: readonly string[], cwd: string, onOutput?: (line: string) => void) {
  return new Promise<{ code: number; tail: string }>((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    let partial = "";
    const take = (chunk: Buffer): void => {
      const text = partial + chunk.toString("utf8");
      const lines = text.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        onOutput?.(line);
        tail = `${tail}${line}\n`.slice(-4_000);
      }
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.once("error", (err) =>
      reject(
        (err as NodeJS.ErrnoException).code === "ENOENT"
          ? new DockerUnavailableError(`Docker is not installed: no '${command}' command on PATH`)
          : err,
      ),
    );
    child.once("close", (code) => {
      if (partial !== "") {
        onOutput?.(partial);
        tail += partial;
      }
      resolve({ code: code ?? 1, tail });
    });
  });
}

/**
 * Builds an image of an environment with the local Docker engine, using the host
 * network (builds never reach a bridge). A package with its own Dockerfile (as
 * `openenv init` writes) is built from its directory with `--build-arg BASE`; any
 * other environment, bundled ones included, gets a generated Dockerfile and a
 * context holding this package's runtime, its production dependencies and the
 * environment's package, all copied from this installation.
 */
export async function buildImage(info: EnvInfo, options: BuildOptions = {}): Promise<BuiltImage> {
  const command = options.command ?? "docker";
  await checkDocker(command);
  const tag = options.tag ?? info.defaultImage;
  const base = options.base ?? process.env.OPENENV_BASE_IMAGE ?? defaultBaseImage;
  const started = Date.now();
  const own = join(info.packageDir, "Dockerfile");
  const bundled = info.source === "bundled";
  if (!bundled && existsSync(own)) {
    const r = await run(
      command,
      ["build", "--network", "host", "--build-arg", `BASE=${base}`, "-t", tag, "."],
      info.packageDir,
      options.onOutput,
    );
    if (r.code !== 0) throw new ImageBuildError(`docker build of ${info.packageDir} failed:\n${r.tail.trim()}`);
    return { tag, dockerfile: "package", durationMs: Date.now() - started };
  }
  const context = mkdtempSync(join(tmpdir(), "openenv-build-"));
  try {
    const app = join(context, "app");
    mkdirSync(join(app, "node_modules"), { recursive: true });
    let target: string;
    if (bundled) {
      writeFileSync(
        join(app, "package.json"),
        `${JSON.stringify({ name: `openenv-image-${info.envKey}`, private: true, type: "module" }, null, 2)}\n`,
      );
      target = info.envKey;
    } else {
      cpSync(info.packageDir, app, {
        recursive: true,
        dereference: true,
        filter: (src) => {
          const rel = relative(info.packageDir, src).split(sep);
          return rel[0] !== "node_modules" && rel[0] !== ".git";
        },
      });
      target = `/opt/app/${relative(info.packageDir, dirname(info.manifestPath)).split(sep).join("/")}`.replace(/\/$/, "");
    }
    const runtime = join(app, "node_modules", "openenv-connect");
    copyRuntime(runtime);
    const roots = bundled ? [packageRoot()] : [info.packageDir, packageRoot()];
    copyDependencies(roots, join(app, "node_modules"), new Set(["openenv-connect"]));
    writeFileSync(join(context, "Dockerfile"), dockerfile(base, info, target));
    const r = await run(command, ["build", "--network", "host", "--build-arg", `BASE=${base}`, "-t", tag, "."], context, options.onOutput);
    if (r.code !== 0) throw new ImageBuildError(`docker build of ${info.envKey} failed:\n${r.tail.trim()}`);
    return { tag, dockerfile: "generated", durationMs: Date.now() - started };
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
