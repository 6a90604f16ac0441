import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { EnvTransportKind } from "../client/env-client.js";
import { clearDiscoveryCache, discoverEnvironments, type EnvInfo } from "./discovery.js";
import { hubGitUrl, hubSourceUrl } from "./names.js";

/** Where the install prompt reads its answer and writes its warning. */
export interface PromptIO {
  /** Must be a terminal (`isTTY`), or the install is refused rather than left waiting. */
  readonly input: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly output: NodeJS.WritableStream;
}

/** Options of {@link installFromHub}. */
export interface HubInstallOptions {
  /** Install without asking (also: `OPENENV_TRUST_REMOTE_CODE=1`). */
  readonly trustRemoteCode?: boolean;
  /** Project to install into (`npm install --prefix`). Default: the working directory. */
  readonly projectDir?: string;
  /** Base URL of the Hub. Default `OPENENV_HUB_URL` or `https://huggingface.co`. */
  readonly hubUrl?: string;
  /** Terminal for the confirmation prompt. Default: stdin and stderr. */
  readonly prompt?: PromptIO;
  /** Progress output (npm's output, and a tick every few seconds). */
  readonly onProgress?: (message: string) => void;
  /** The npm command. Default `npm`. */
  readonly npmCommand?: string;
}

/** The user declined (or could not be asked) to install remote code. */
export class RemoteCodeRefusedError extends Error {
  override readonly name = "RemoteCodeRefusedError";
}

/** An npm install that failed. */
export class InstallError extends Error {
  override readonly name = "InstallError";
}

/** True when `OPENENV_TRUST_REMOTE_CODE` is 1, true or yes, or `explicit` is true. */
export function isRemoteCodeTrusted(explicit?: boolean): boolean {
  if (explicit === true) return true;
  return ["1", "true", "yes"].includes((process.env.OPENENV_TRUST_REMOTE_CODE ?? "").trim().toLowerCase());
}

/** The Hub base URL: the option, else `OPENENV_HUB_URL`, else huggingface.co. */
export function hubBaseUrl(explicit?: string): string {
  return explicit ?? process.env.OPENENV_HUB_URL ?? "https://huggingface.co";
}

/** OpenEnv's warning, word for word. */
export function remoteCodeWarning(repoId: string, source: string): string {
  const rule = "=".repeat(60);
  return [
    rule,
    "SECURITY WARNING: Remote Code Installation",
    rule,
    "You are about to install code from a remote repository:",
    `  Repository: ${repoId}`,
    `  Source: ${source}`,
    "",
    "This will execute code from the internet on your machine.",
    "Only proceed if you trust the source.",
    rule,
    "",
  ].join("\n");
}

const cancelled =
  "Installation cancelled by user.\nTo allow remote installs without prompting, set OPENENV_TRUST_REMOTE_CODE=1 (or pass trustRemoteCode: true)";

/**
 * Shows the warning and asks `Do you want to proceed? [y/N]`. Resolves when the
 * answer is yes; throws {@link RemoteCodeRefusedError} for anything else, and at
 * once (without waiting) when the input is not a terminal.
 */
export async function confirmRemoteInstall(repoId: string, source: string, io: PromptIO): Promise<void> {
  io.output.write(`\n${remoteCodeWarning(repoId, source)}\n`);
  if (io.input.isTTY !== true) {
    throw new RemoteCodeRefusedError(
      "Refusing to install remote code: there is no terminal to confirm on (stdin is not a TTY).\n" +
        "To allow remote installs without prompting, set OPENENV_TRUST_REMOTE_CODE=1 (or pass trustRemoteCode: true)",
    );
  }
  const rl = createInterface({ input: io.input, output: io.output, terminal: false });
  try {
    const answer = await new Promise<string>((resolveAnswer) => {
      rl.once("close", () => resolveAnswer(""));
      rl.question("Do you want to proceed? [y/N]: ", resolveAnswer);
    });
    if (!["y", "yes"].includes(answer.trim().toLowerCase())) throw new RemoteCodeRefusedError(cancelled);
  } finally {
    rl.close();
  }
}

function dependencies(projectDir: string): Record<string, string> {
  try {
    const pkg = JSON.parse(readFileSync(join(projectDir, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
      devDependencies?: Record<string, string>;
    };
    return { ...pkg.devDependencies, ...pkg.dependencies };
  } catch {
    return {};
  }
}

// npm may save a git URL with `.git` or a `#ref` added.
function sameSource(spec: string, gitUrl: string): boolean {
  const bare = (s: string): string =>
    s
      .replace(/#.*$/, "")
      .replace(/\.git$/, "")
      .replace(/\/+$/, "");
  return bare(spec) === bare(gitUrl);
}

function installedFrom(projectDir: string, gitUrl: string): EnvInfo | undefined {
  const entry = Object.entries(dependencies(projectDir)).find(([, spec]) => sameSource(spec, gitUrl));
  if (entry === undefined) return undefined;
  const discovery = discoverEnvironments({ projectDir, refresh: true });
  return [...discovery.environments.values()].find((e) => e.package === entry[0]);
}

/**
 * Installs a Hub Space's environment package: `npm install git+<hub>/spaces/<repoId>`
 * into the project, after OpenEnv's warning and a y/N prompt (skipped when
 * trusted). Returns the installed environment; an already installed one is
 * returned without asking.
 */
export async function installFromHub(repoId: string, options: HubInstallOptions = {}): Promise<EnvInfo> {
  const projectDir = resolve(options.projectDir ?? process.cwd());
  const hub = hubBaseUrl(options.hubUrl);
  const gitUrl = hubGitUrl(repoId, hub);
  const already = installedFrom(projectDir, gitUrl);
  if (already !== undefined) return already;
  if (!isRemoteCodeTrusted(options.trustRemoteCode)) {
    await confirmRemoteInstall(repoId, hubSourceUrl(repoId, hub), options.prompt ?? { input: process.stdin, output: process.stderr });
  }
  await npmInstall(projectDir, gitUrl, options);
  clearDiscoveryCache();
  const info = installedFrom(projectDir, gitUrl);
  if (info === undefined) {
    const name = Object.entries(dependencies(projectDir)).find(([, spec]) => sameSource(spec, gitUrl))?.[0];
    throw new InstallError(
      name === undefined
        ? `npm installed ${gitUrl} into ${projectDir}, but package.json does not list it`
        : `installed ${name} from ${gitUrl}, but it carries no valid openenv.yaml manifest (see 'openenv list')`,
    );
  }
  return info;
}

async function npmInstall(projectDir: string, spec: string, options: HubInstallOptions): Promise<void> {
  const npm = options.npmCommand ?? "npm";
  const args = ["install", "--prefix", projectDir, "--no-audit", "--no-fund", spec];
  const report = options.onProgress ?? (() => {});
  report(`npm ${args.join(" ")}`);
  if (!existsSync(join(projectDir, "package.json"))) report(`${projectDir} has no package.json; npm creates one`);
  const started = Date.now();
  const child = spawn(npm, args, { cwd: projectDir, stdio: ["ignore", "pipe", "pipe"], env: process.env });
  let tail = "";
  const onLine = (line: string): void => {
    tail = `${tail}${line}\n`.slice(-4_000);
    if (line.trim() !== "") report(`npm: ${line}`);
  };
  createInterface({ input: child.stdout }).on("line", onLine);
  createInterface({ input: child.stderr }).on("line", onLine);
  const ticker = setInterval(() => report(`installing ${spec} (${Math.round((Date.now() - started) / 1000)} s)`), 5_000);
  const code = await new Promise<number>((resolveCode, reject) => {
    child.once("error", reject);
    child.once("close", (c) => resolveCode(c ?? 1));
  }).finally(() => clearInterval(ticker));
  if (code !== 0) throw new InstallError(`npm install ${spec} failed (exit ${code}):\n${tail.trim()}`);
}

/**
 * Hugging Face Spaces run OpenEnv's Python server, which speaks only HTTP/JSON +
 * WebSocket: `auto` tries the Connect stream first and falls back to `/ws`, then HTTP.
 */
export const hubTransport: EnvTransportKind = "auto";
