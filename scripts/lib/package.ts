import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "./run-command.js";

/**
 * The package as its users get it: packed like a release, installed into an
 * empty project, compiled against by a strict consumer. Used by the tests
 * (`test/package.test.ts`) and by the docs job (`scripts/docs/run.ts`).
 */

/** The compiler settings of a strict consumer: what our declarations and every documentation sample must compile under. */
export const strictCompilerOptions = {
  strict: true,
  module: "nodenext",
  moduleResolution: "nodenext",
  target: "ES2022",
  lib: ["ES2023"],
  types: ["node"],
  skipLibCheck: false,
  outDir: "out",
  rootDir: ".",
} as const;

/** What the build (`prepare`: tsc and scripts/build-web.ts) and the `files` list can name (npm adds README and LICENSE itself). */
export const packedEntries = [
  "package.json",
  "README.md",
  "LICENSE",
  "bin",
  "docs",
  "src",
  "gen",
  "proto",
  "scripts",
  "tsconfig.json",
  "tsconfig.build.json",
];

/**
 * Packs `repo` as a release is packed: `npm pack` in a staging copy (its own
 * dist/ stays as it is) runs the package's `prepare` script, which is the whole
 * build (the compiled code and the /web page bundle), and the real `files`
 * list applies. Returns the tarball's path.
 */
export async function packPackage(repo: string, workDir = mkdtempSync(join(tmpdir(), "openenv-pack-"))): Promise<string> {
  const stage = join(workDir, "stage");
  mkdirSync(stage, { recursive: true });
  for (const entry of packedEntries) {
    if (existsSync(join(repo, entry))) cpSync(join(repo, entry), join(stage, entry), { recursive: true });
  }
  symlinkSync(join(repo, "node_modules"), join(stage, "node_modules"));
  const out = join(workDir, "out");
  mkdirSync(out, { recursive: true });
  const pack = await runCommand("npm", ["pack", "--pack-destination", out], { cwd: stage, env: npmEnv(), timeoutMs: 600_000 });
  if (pack.code !== 0) throw new Error(`npm pack failed (its prepare script is the build):\n${pack.stdout}${pack.stderr}`);
  const file = readdirSync(out).find((f) => f.endsWith(".tgz"));
  if (file === undefined) throw new Error("npm pack wrote no tarball");
  return join(out, file);
}

/** npm with the cache preferred (what is cached is used as it is; only what is missing is fetched) and no audit, fund or update chatter. */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    npm_config_prefer_offline: "true",
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    ...extra,
  };
}

/**
 * An empty ES-module project in `dir` that installed the tarball the way a user
 * does (`npm install <tarball>`), plus the TypeScript and `@types/node` that
 * `repo` pins, so it can compile code against the installed declarations.
 */
export async function installConsumer(repo: string, tarball: string, dir: string): Promise<void> {
  const pins = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { devDependencies: Record<string, string> })
    .devDependencies;
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }));
  const r = await runCommand("npm", ["install", tarball, `typescript@${pins.typescript}`, `@types/node@${pins["@types/node"]}`], {
    cwd: dir,
    env: npmEnv(),
    timeoutMs: 300_000,
  });
  if (r.code !== 0) throw new Error(`npm install failed:\n${r.stderr}`);
}

/** Compiles `files` (relative to `dir`) with the strict consumer settings; `output` is tsc's report ("" when clean). */
export async function compileStrict(dir: string, files: readonly string[]): Promise<{ ok: boolean; output: string }> {
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: strictCompilerOptions, files }, null, 2));
  const r = await runCommand(process.execPath, [join(dir, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], {
    cwd: dir,
    timeoutMs: 300_000,
  });
  return { ok: r.code === 0, output: `${r.stdout}${r.stderr}` };
}
