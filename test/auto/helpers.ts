import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { npmEnv, packedEntries, packPackage } from "../../scripts/lib/package.js";
import { type Ran, type RunOptions, runCommand as runShared } from "../../scripts/lib/run-command.js";
import { discoverEnvironments } from "../../src/auto/discovery.js";
import { descriptorBase64 } from "../../src/cli/scaffold/contract.js";

export { waitFor } from "../fixtures/wait-for.js";

/** The repository root (this worktree). */
export const repoRoot = join(import.meta.dirname, "..", "..");
export const bin = join(repoRoot, "bin", "openenv.js");

/** Keys of the bundled environments (other folders under src/envs may join echo). */
export function bundledKeys(): string[] {
  return [...discoverEnvironments({ installed: false }).environments.keys()];
}

/** Sorted keys of the bundled environments plus `installed`: what discovery should list. */
export function expectedKeys(...installed: string[]): string[] {
  return [...new Set([...bundledKeys(), ...installed])].sort();
}

const cleanups: Array<() => void> = [];

/** A fresh temporary directory, removed by {@link cleanupTemp}. `inRepo` puts it under `.tmp/` so modules resolve this repo's node_modules. */
export function tempDir(prefix: string, inRepo = false): string {
  const base = inRepo ? join(repoRoot, ".tmp") : tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, `${prefix}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function cleanupTemp(): void {
  for (const c of cleanups.splice(0)) c();
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Runs a command to completion (stdin closed, or fed `input`); in the repository unless `cwd` says otherwise. */
export function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<Ran> {
  return runShared(command, args, { ...options, cwd: options.cwd ?? repoRoot });
}

export type { Ran };

/** Runs the `openenv` CLI of this checkout. */
export function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  return runCommand(process.execPath, [bin, ...args], options);
}

/** A server started with `openenv serve ... --json`. */
export interface CliServer {
  readonly url: string;
  readonly child: ChildProcess;
  readonly stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `openenv serve <args> --port 0 --json` and waits for its listening line. */
export async function startCliServer(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; node?: string; bin?: string } = {},
): Promise<CliServer> {
  const child = spawn(options.node ?? process.execPath, [options.bin ?? bin, "serve", ...args, "--port", "0", "--json"], {
    cwd: options.cwd ?? repoRoot,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`openenv serve did not start: ${stderr}`)), 60_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === "listening" && event.url !== undefined) {
          clearTimeout(timer);
          resolve(event.url);
        }
      } catch {
        // not the JSON line
      }
    });
    void exited.then((code) => reject(new Error(`openenv serve exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    child,
    stderr: () => stderr,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** One row of the process table. */
export interface ProcessRow {
  readonly pid: number;
  readonly ppid: number;
  readonly cmdline: string;
}

/** The process table, read from /proc (zombies excluded: they hold no resources and are being reaped). */
export function processTable(): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (after[0] === "Z") continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
      rows.push({ pid: Number(entry), ppid: Number(after[1]), cmdline });
    } catch {
      // the process ended while we read
    }
  }
  return rows;
}

/** True while `pid` is in the process table (and not a zombie). */
export function isRunning(pid: number): boolean {
  return processTable().some((p) => p.pid === pid);
}

/** A fake installed environment package: plain JavaScript built on the echo-like template contract. */
export interface FakePackageOptions {
  /** Environment key, e.g. `coding`. */
  readonly key: string;
  /** npm package name; default `openenv-<key>`. */
  readonly packageName?: string;
  /** Declare the manifest in package.json instead of relying on the `openenv-` name. */
  readonly declare?: boolean;
  /** Write this manifest text instead of a valid one. */
  readonly manifest?: string;
  /** Path whose existence proves the module was imported. */
  readonly markerFile?: string;
  readonly version?: string;
  /** Manifest `action` override (to test mismatches). */
  readonly actionType?: string;
}

/** Writes a fake environment package into `<nodeModules>/<name>`; returns its directory. */
export function fakeEnvPackage(nodeModules: string, o: FakePackageOptions): string {
  const name = o.packageName ?? `openenv-${o.key.replace(/_/g, "-")}`;
  const dir = join(nodeModules, name);
  mkdirSync(dir, { recursive: true });
  const pascal = o.key
    .split("_")
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join("");
  const pkg = `openenv.envs.${o.key}.v1`;
  const manifestRel = o.declare === true ? "env/openenv.yaml" : "openenv.yaml";
  writeFileSync(
    join(dir, "package.json"),
    JSON.stringify({
      name,
      version: o.version ?? "0.1.0",
      type: "module",
      ...(o.declare === true ? { openenv: { manifest: manifestRel } } : {}),
    }),
  );
  mkdirSync(dirname(join(dir, manifestRel)), { recursive: true });
  writeFileSync(
    join(dir, manifestRel),
    o.manifest ??
      `spec_version: 1
name: ${o.key}_env
version: ${o.version ?? "0.1.0"}
description: Fake ${o.key} environment
type: space
runtime: openenv-connect
app: ./environment.js#${pascal}Environment
port: 8000
action: ${o.actionType ?? `${pkg}.${pascal}Action`}
observation: ${pkg}.${pascal}Observation
state: ${pkg}.${pascal}State
`,
  );
  const marker = o.markerFile === undefined ? "" : `writeFileSync(${JSON.stringify(o.markerFile)}, "imported");\n`;
  writeFileSync(
    join(dirname(join(dir, manifestRel)), "environment.js"),
    `import { writeFileSync } from "node:fs";
import { fileDesc, messageDesc } from "@bufbuild/protobuf/codegenv2";
${marker}const file = fileDesc(${JSON.stringify(descriptorBase64({ key: o.key, pascal }))});
export class ${pascal}Environment {
  static spec = { name: ${JSON.stringify(o.key)}, action: messageDesc(file, 0), observation: messageDesc(file, 1), state: messageDesc(file, 2) };
  episodeId = "";
  stepCount = 0;
  reset() { return { observation: { echoedMessage: "${o.key} ready", messageLength: 0 }, reward: 0 }; }
  step(action) { return { observation: { echoedMessage: "${o.key}:" + action.message, messageLength: action.message.length }, reward: 1 }; }
  get state() { return { episodeId: this.episodeId, stepCount: this.stepCount }; }
  close() {}
}
`,
  );
  return dir;
}

let tarball: Promise<string> | undefined;

/**
 * This package as npm would publish it (see `packPackage`: the real build, then
 * `npm pack`). Packed once per content of the packed files and shared by the
 * test files of a run (each runs in its own process; two full builds at once
 * are minutes on a loaded 2-core machine), under `.tmp/pack-<hash>`.
 */
export function packThisPackage(): Promise<string> {
  tarball ??= packShared();
  return tarball;
}

async function packShared(): Promise<string> {
  const key = packedContentHash();
  const base = join(repoRoot, ".tmp");
  const dir = join(base, `pack-${key}`);
  const done = join(dir, "tarball-path");
  const lock = `${dir}.lock`;
  mkdirSync(base, { recursive: true });
  for (;;) {
    if (existsSync(done)) return readFileSync(done, "utf8");
    try {
      mkdirSync(lock);
    } catch {
      // Another test process is packing: wait for it, unless it died with the lock.
      if (lockAbandoned(lock)) rmSync(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      writeFileSync(join(lock, "pid"), String(process.pid));
      // Tarballs of earlier contents, unless recent: a run still going may be installing one.
      for (const old of readdirSync(base)) {
        const path = join(base, old);
        if (old.startsWith("pack-") && !old.endsWith(".lock") && Date.now() - statSync(path).mtimeMs > 3_600_000) {
          rmSync(path, { recursive: true, force: true });
        }
      }
      const file = await packPackage(repoRoot, dir);
      rmSync(join(dir, "stage"), { recursive: true, force: true });
      writeFileSync(done, file);
      return file;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
}

/** A pack lock whose process is gone (or, without a pid yet, older than a pack could take). */
function lockAbandoned(lock: string): boolean {
  try {
    const owner = Number(readFileSync(join(lock, "pid"), "utf8"));
    return owner > 0 && !isRunning(owner);
  } catch {
    try {
      return Date.now() - statSync(lock).mtimeMs > 60_000;
    } catch {
      return false; // released meanwhile
    }
  }
}

/** A hash of every file `packPackage` reads (tracked or new, not ignored), and of the lockfile. */
function packedContentHash(): string {
  const listed = execFileSync("git", ["ls-files", "-z", "-co", "--exclude-standard", "--", ...packedEntries, "package-lock.json"], {
    cwd: repoRoot,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const hash = createHash("sha256");
  for (const file of listed.split("\0").filter(Boolean).sort()) {
    if (!existsSync(join(repoRoot, file))) continue; // deleted, not yet staged
    hash
      .update(file)
      .update("\0")
      .update(readFileSync(join(repoRoot, file)))
      .update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

/**
 * npm, preferring the local cache: what this repository's install cached is used
 * as it is, and only what is missing (on a fresh machine, the packuments `npm ci`
 * never fetches) comes from the registry. Strict `offline` fails there with ENOTCACHED.
 */
export function npm(args: readonly string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return runCommand("npm", [...args], { cwd, env: npmEnv(extraEnv), timeoutMs: 300_000 });
}

/** Writes a package.json for a temporary project. */
export function projectDir(prefix: string, inRepo = false): string {
  const dir = tempDir(prefix, inRepo);
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "scratch-project", version: "1.0.0", private: true, type: "module" }));
  return dir;
}

export function execText(command: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd }, (err, stdout, stderr) =>
      err === null ? resolve(String(stdout)) : reject(new Error(`${err.message}\n${stderr}`)),
    );
  });
}

export { existsSync };
