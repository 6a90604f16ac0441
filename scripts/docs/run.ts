/**
 * Docs are tests: every sample of README.md and docs/*.md, run as a user would.
 *
 *   npm run test:docs [-- --only README.md,docs/workers.md] [--verbose] [--keep]
 *
 * Packs this repository (`npm pack`), installs the tarball into an empty
 * project, compiles every TypeScript sample there with a strict consumer's
 * settings (strict, nodenext, skipLibCheck false, lib ES2023, @types/node) and
 * runs it with node; runs every shell block with bash (in that project, or in
 * the checkout when marked) and every Python block with a fresh virtualenv that
 * installed ./clients/python. Servers a shell block starts (`openenv serve`,
 * `openenv gateway`) run in the background until the end of their document;
 * ports 8000, 8001 and 8002 in a document become free ports. See
 * scripts/docs/samples.ts for the markers.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import { compileStrict, installConsumer, packPackage } from "../lib/package.js";
import { runCommand } from "../lib/run-command.js";
import { collectSamples, docPorts, type Sample, sampleFile, withPorts } from "./samples.js";

const repo = join(import.meta.dirname, "..", "..");

interface Outcome {
  readonly sample: Sample;
  readonly status: "pass" | "fail" | "skip";
  readonly detail: string;
  readonly ms: number;
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { keep: { type: "boolean" }, only: { type: "string" }, verbose: { type: "boolean" } } });
  const only = values.only?.split(",").map((f) => f.trim());
  const samples = collectSamples(repo).filter((s) => only === undefined || only.includes(relative(repo, s.file)));
  const work = mkdtempSync(join(tmpdir(), "openenv-docs-"));
  const started = Date.now();
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  try {
    say(
      `docs: ${samples.length} samples (${count(samples, "ts")} TypeScript, ${count(samples, "sh")} shell, ${count(samples, "python")} Python, ${count(samples, "file")} files)`,
    );
    const tarball = await packPackage(repo, join(work, "pack"));
    const consumer = join(work, "consumer");
    mkdirSync(consumer);
    await installConsumer(repo, tarball, consumer);
    say(`docs: installed ${relative(work, tarball)} into an empty project (${secs(started)})`);

    const ports = new Map<string, Map<number, number>>();
    for (const s of samples) {
      if (!ports.has(s.file)) ports.set(s.file, new Map(await Promise.all(docPorts.map(async (p) => [p, await freePort()] as const))));
    }
    const compileErrors = await compileSamples(consumer, samples, ports);
    say(`docs: compiled the TypeScript samples strictly (${secs(started)})`);
    const python = samples.some((s) => s.kind === "python" && s.skip === undefined)
      ? await pythonEnv(work).catch((err: unknown) => err as Error)
      : undefined;

    const outcomes: Outcome[] = [];
    for (const file of new Set(samples.map((s) => s.file))) {
      const doc = new DocRun(work, consumer, ports.get(file)!, python);
      try {
        for (const sample of samples.filter((s) => s.file === file)) {
          const outcome = await doc.run(sample, compileErrors.get(sampleFile(sample)));
          outcomes.push(outcome);
          const mark = { pass: "PASS", fail: "FAIL", skip: "SKIP" }[outcome.status];
          say(
            `${mark}  ${sample.where} ${sample.kind}${outcome.status === "skip" ? `: ${outcome.detail}` : ` (${(outcome.ms / 1000).toFixed(1)} s)`}`,
          );
          if (outcome.status === "fail" || (values.verbose === true && outcome.detail !== "")) say(indent(outcome.detail));
        }
      } finally {
        await doc.stopServers();
      }
    }
    const failed = outcomes.filter((o) => o.status === "fail").length;
    const skipped = outcomes.filter((o) => o.status === "skip").length;
    say(`docs: ${outcomes.length - failed - skipped} passed, ${failed} failed, ${skipped} not run here (${secs(started)})`);
    return failed === 0 ? 0 : 1;
  } finally {
    if (values.keep === true) say(`docs: kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

/** Writes and compiles every TypeScript sample at once; returns each failing file's compiler output. */
async function compileSamples(
  consumer: string,
  samples: readonly Sample[],
  ports: ReadonlyMap<string, ReadonlyMap<number, number>>,
): Promise<Map<string, string>> {
  const files: string[] = [];
  for (const s of samples) {
    if (s.kind !== "ts" || s.skip !== undefined) continue;
    const file = sampleFile(s);
    mkdirSync(join(consumer, dirname(file)), { recursive: true });
    writeFileSync(join(consumer, file), withPorts(s.code, ports.get(s.file)!));
    files.push(file);
  }
  const errors = new Map<string, string>();
  if (files.length === 0) return errors;
  const tsc = await compileStrict(consumer, files);
  if (tsc.ok) return errors;
  let current = "(declarations)";
  for (const line of tsc.output.split("\n")) {
    if (line.trim() === "") continue;
    // A diagnostic starts with its file; indented lines continue the one before.
    if (!/^\s/.test(line)) current = files.find((f) => line.startsWith(f)) ?? "(declarations)";
    errors.set(current, `${errors.get(current) ?? ""}${line}\n`);
  }
  const elsewhere = errors.get("(declarations)");
  if (elsewhere !== undefined) for (const f of files) errors.set(f, `${errors.get(f) ?? ""}${elsewhere}`);
  return errors;
}

/** A virtualenv that sees Debian's grpcio and protobuf and installed ./clients/python, offline. */
async function pythonEnv(work: string): Promise<string> {
  const venv = join(work, "venv");
  const mk = await runCommand("/usr/bin/python3", ["-m", "venv", "--system-site-packages", venv]);
  if (mk.code !== 0) throw new Error(`python3 -m venv failed: ${mk.stderr}`);
  const pip = await runCommand(
    join(venv, "bin", "pip"),
    ["install", "--quiet", "--no-index", "--no-build-isolation", join(repo, "clients", "python")],
    { timeoutMs: 300_000 },
  );
  if (pip.code !== 0) throw new Error(`pip install ./clients/python failed:\n${pip.stdout}${pip.stderr}`);
  return join(venv, "bin", "python");
}

/** The samples of one document, sharing its port and the servers its shell blocks start. */
class DocRun {
  private readonly pids: string;
  private readonly logs: string;
  private judge: { url: string; close(): Promise<void> } | undefined;

  constructor(
    work: string,
    private readonly consumer: string,
    private readonly ports: ReadonlyMap<number, number>,
    private readonly python: string | Error | undefined,
  ) {
    this.logs = mkdtempSync(join(work, "doc-"));
    this.pids = join(this.logs, "pids");
  }

  async run(sample: Sample, compileError: string | undefined): Promise<Outcome> {
    const started = Date.now();
    const done = (status: Outcome["status"], detail: string): Outcome => ({ sample, status, detail, ms: Date.now() - started });
    if (sample.skip !== undefined) return done("skip", sample.skip);
    if (compileError !== undefined) return done("fail", `does not compile:\n${compileError}`);
    const code = withPorts(sample.code, this.ports);
    let r: Awaited<ReturnType<typeof runCommand>>;
    try {
      if (sample.kind === "file") {
        const path = join(this.consumer, sample.fileName!);
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, code);
        if (!/\.m?js$/.test(path)) return done("pass", `wrote ${sample.fileName}`);
        r = await runCommand(process.execPath, ["--check", path], { cwd: this.consumer });
      } else if (sample.kind === "ts") {
        const js = join("out", sampleFile(sample).replace(/\.ts$/, ".js"));
        r = await runCommand(process.execPath, [js], { cwd: this.consumer, env: await this.env(sample), timeoutMs: 180_000 });
      } else if (sample.kind === "python") {
        if (typeof this.python !== "string") return done("fail", `no Python environment: ${this.python?.message ?? "not set up"}`);
        const file = join(this.logs, `sample-${sample.line}.py`);
        writeFileSync(file, code);
        r = await runCommand(this.python, [file], { cwd: this.consumer, timeoutMs: 180_000 });
      } else {
        const cwd = sample.checkout ? repo : this.consumer;
        const file = join(this.logs, `sample-${sample.line}.sh`);
        writeFileSync(file, shellScript(code, this.logs, sample.line));
        // npm_config_yes: the user answers "y" when npx offers to fetch a package (@bufbuild/buf).
        const env = {
          ...process.env,
          PATH: `${join(cwd, "node_modules", ".bin")}:${process.env.PATH ?? ""}`,
          DOCS_PIDS: this.pids,
          npm_config_yes: "true",
        };
        r = await runCommand("bash", [file], { cwd, env, timeoutMs: 300_000 });
      }
    } catch (err) {
      return done("fail", (err as Error).message);
    }
    return r.code === 0 ? done("pass", `${r.stdout}${r.stderr}`) : done("fail", `exit ${r.code}\n${r.stdout}${r.stderr}`);
  }

  private async env(sample: Sample): Promise<NodeJS.ProcessEnv> {
    if (!sample.judge) return process.env;
    this.judge ??= await standInJudge();
    return { ...process.env, OPENENV_JUDGE_BASE_URL: this.judge.url, OPENENV_JUDGE_MODEL: "grader", OPENENV_JUDGE_API_KEY: "docs" };
  }

  /** Stops the servers the document's shell blocks started (each in its own process group). */
  async stopServers(): Promise<void> {
    await this.judge?.close();
    if (!existsSync(this.pids)) return;
    const pids = readFileSync(this.pids, "utf8").split("\n").filter(Boolean).map(Number);
    for (const pid of pids) signalGroup(pid, "SIGTERM");
    const deadline = Date.now() + 10_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const pid of pids) if (alive(pid)) signalGroup(pid, "SIGKILL");
    rmSync(this.pids);
  }
}

const preamble = `set -eo pipefail
# A server line must find its port free (not served by an earlier block's server).
docs_port_free() {
  if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then echo "port $1 is already in use in this document" >&2; return 1; fi
}
# Waits until a server started in the background listens on its port (fails if it exits first).
docs_wait_port() {
  for _ in $(seq 1 1200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then echo "the server exited:" >&2; cat "$3" >&2; return 1; fi
    sleep 0.1
  done
  echo "no server on port $1 after 120 s:" >&2; cat "$3" >&2; return 1
}
`;

/**
 * A shell block as a script: `openenv serve` and `openenv gateway` lines start their server in the
 * background, in a process group of its own (recorded for the end of the
 * document), and the next line waits for its port.
 */
export function shellScript(code: string, logs: string, line: number): string {
  const out: string[] = [preamble];
  let n = 0;
  for (const logical of code.replace(/\\\n/g, " ").split("\n")) {
    const command = withoutComment(logical).trim().replace(/&$/, "").trim();
    if (!/\bopenenv(\.js)?\s+(serve|gateway)\b/.test(command)) {
      out.push(logical);
      continue;
    }
    const port = /--port\s+(\d+)/.exec(command)?.[1];
    if (port === undefined) throw new Error(`line ${line}: a server command needs --port: ${command}`);
    const log = join(logs, `server-${line}-${n++}.log`);
    out.push(
      `docs_port_free ${port}`,
      `setsid ${command} > "${log}" 2>&1 < /dev/null &`,
      `echo $! >> "$DOCS_PIDS"`,
      `docs_wait_port ${port} $! "${log}"`,
    );
  }
  return `${out.join("\n")}\n`;
}

/** A shell line without its trailing `# comment` (a `#` outside quotes, after a space). */
function withoutComment(line: string): string {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') {
      quote = c;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

/** An OpenAI-compatible `/chat/completions` that grades every answer "Score: 5/10". */
function standInJudge(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createHttpServer((req, res) => {
    req.resume();
    const body = JSON.stringify({ choices: [{ index: 0, message: { role: "assistant", content: "Score: 5/10" }, finish_reason: "stop" }] });
    res.writeHead(req.url?.endsWith("/chat/completions") === true ? 200 : 404, { "content-type": "application/json" });
    res.end(body);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

function freePort(): Promise<number> {
  const s = createServer();
  return new Promise((resolve) =>
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    }),
  );
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const count = (samples: readonly Sample[], kind: Sample["kind"]): number => samples.filter((s) => s.kind === kind).length;
const secs = (since: number): string => `${((Date.now() - since) / 1000).toFixed(0)} s`;
const indent = (text: string): string =>
  text
    .trimEnd()
    .split("\n")
    .map((l) => `      ${l}`)
    .join("\n");

// Written so that a caller can import shellScript without running the job.
if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`docs: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
