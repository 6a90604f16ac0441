import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codeBlocks, section } from "../scripts/docs/markdown.js";
import { collectSamples, docFiles, sampleFile } from "../scripts/docs/samples.js";
import { bundledKeys, cleanupTemp, packThisPackage, repoRoot, runCommand } from "./auto/helpers.js";
import { compileStrict, consumerProject, runNode, writeSource } from "./fixtures/consumer.js";
import { type Standin, skipStandin, startStandin } from "./gateway/standin.js";

/**
 * The package as its users get it: `npm pack`, installed into an empty project
 * (issue 13 items 1-4). Everything here goes through the package name and the
 * declarations a consumer's compiler reads, never through this checkout's sources.
 */

let tarball: string;
let project: string;
let installed: string;
beforeAll(async () => {
  tarball = await packThisPackage();
  project = await consumerProject(tarball);
  installed = join(project, "node_modules", "openenv-connect");
}, 300_000);
afterAll(cleanupTemp);

const pascal = (key: string): string => key.replace(/(?:^|_)(\w)/g, (_, c: string) => c.toUpperCase());
const camel = (key: string): string => key.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

/** Runtime export names of an entry point, imported by a consumer's plain node. */
async function exportsOf(specifier: string): Promise<string[]> {
  const file = writeSource(
    project,
    `keys-${specifier.replace(/\W/g, "_")}.mjs`,
    `console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(specifier)})).sort()));\n`,
  );
  const r = await runNode(project, file);
  if (r.code !== 0) throw new Error(`import("${specifier}") failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as string[];
}

/** The runtime names the README's "Public API" table lists for an entry point. */
function documented(entry: string): string[] {
  const api = section(readFileSync(join(repoRoot, "README.md"), "utf8"), "## Public API");
  if (api === undefined) throw new Error("README.md has no '## Public API' section");
  const row = api.split("\n").find((l) => l.startsWith(`| \`${entry}\` |`));
  if (row === undefined) throw new Error(`README.md's Public API table has no row for ${entry}`);
  const cell = row.split("|")[2] ?? "";
  return [...cell.matchAll(/`([A-Za-z_$][\w$]*)`/g)].map((m) => m[1]!).sort();
}

describe("item 1: each bundled environment has a public entry point", () => {
  it.each(bundledKeys())("openenv-connect/envs/%s exports its generated messages, spec and class", async (key) => {
    const names = await exportsOf(`openenv-connect/envs/${key}`);
    expect(names, "its class").toContain(`${pascal(key)}Environment`);
    expect(names).toContain(`${camel(key)}Spec`);
    expect(names.some((n) => /ActionSchema$/.test(n))).toBe(true); // browser also has one per kind of action
    expect(names.some((n) => /ObservationSchema$/.test(n))).toBe(true);
    expect(names.some((n) => /StateSchema$/.test(n))).toBe(true);
    expect(names.some((n) => n.startsWith("file_openenv_envs_"))).toBe(true);
  });

  it("the maze entry point has the Direction enum", async () => {
    expect(await exportsOf("openenv-connect/envs/maze")).toContain("Direction");
  });

  it("the README quickstart compiles strictly against the installed package and runs", async () => {
    const quickstart = codeBlocks(join(repoRoot, "README.md")).find((b) => b.lang === "ts");
    expect(quickstart?.code).toContain('from "openenv-connect');
    expect(quickstart?.code).not.toMatch(/from "\.\.?\//);
    const file = writeSource(project, "quickstart.ts", quickstart!.code);
    const tsc = await compileStrict(project, [file]);
    expect(tsc.output).toBe("");
    const r = await runNode(project, "out/quickstart.js");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("desserts 1 false\n");
  });

  it("deep imports stay closed: only the entry points in package.json exports resolve", async () => {
    const file = writeSource(project, "deep.mjs", 'await import("openenv-connect/dist/src/envs/echo/environment.js");\n');
    const r = await runNode(project, file);
    expect(r.stderr).toContain("ERR_PACKAGE_PATH_NOT_EXPORTED");
  });
});

describe("item 2: the root export is the user API; internals are elsewhere", () => {
  const areas = [
    "openenv-connect/server",
    "openenv-connect/client",
    "openenv-connect/auto",
    "openenv-connect/gateway",
    "openenv-connect/agent",
  ];

  it.each(areas)("%s exports exactly what the README's Public API table lists", async (entry) => {
    expect(await exportsOf(entry)).toEqual(documented(entry));
  });

  it("openenv-connect exports the areas plus Code and ConnectError, nothing else", async () => {
    const root = await exportsOf("openenv-connect");
    expect(root).toEqual([...new Set([...areas.flatMap(documented), ...documented("openenv-connect")])].sort());
  });

  it("internals the issue names are only in openenv-connect/internal", async () => {
    const root = await exportsOf("openenv-connect");
    const internal = await exportsOf("openenv-connect/internal");
    for (const name of ["isPromiseLike", "renderTemplate", "closeMatches", "hubSpaceUrl", "SessionManager", "capacityMessage"]) {
      expect(root).not.toContain(name);
      expect(internal).toContain(name);
    }
    const declarations = readFileSync(join(installed, "dist/src/internal.d.ts"), "utf8");
    expect(declarations).toContain("@private");
  });
});

describe("item 3: the declarations compile for a strict consumer", () => {
  it("every entry point type-checks with strict, nodenext, skipLibCheck false, lib ES2023 and @types/node only", async () => {
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { exports: Record<string, unknown> };
    const entries = Object.keys(pkg.exports)
      .filter((k) => k !== "./package.json")
      .flatMap((k) => (k.includes("*") ? bundledKeys().map((key) => k.replace("*", key)) : [k]))
      .map((k) => `openenv-connect${k.slice(1)}`);
    const file = writeSource(
      project,
      "all-entry-points.ts",
      `${entries.map((e, i) => `import * as m${i} from "${e}";`).join("\n")}\nexport const all = [${entries.map((_, i) => `m${i}`).join(", ")}];\n`,
    );
    const tsc = await compileStrict(project, [file]);
    expect(tsc.output).toBe("");
    expect(tsc.ok).toBe(true);
  });

  it("no public declaration names a DOM-only type of our own making (HeadersInit)", () => {
    const offenders = walk(join(installed, "dist"))
      .filter((f) => f.endsWith(".d.ts") && /\bHeadersInit\b/.test(withoutComments(readFileSync(f, "utf8"))))
      .map((f) => relative(installed, f));
    expect(offenders).toEqual([]);
  });
});

describe("item 4: package hygiene", () => {
  it("ships a BSD-3-Clause LICENSE matching package.json", () => {
    const pkg = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { license: string };
    expect(pkg.license).toBe("BSD-3-Clause");
    expect(readFileSync(join(installed, "LICENSE"), "utf8")).toMatch(/^BSD 3-Clause License\n/);
  });

  it("ships docs/, and every relative link in the shipped README and docs resolves inside the package", () => {
    expect(existsSync(join(installed, "docs", "autoenv-cli.md"))).toBe(true);
    const broken: string[] = [];
    for (const md of ["README.md", ...readdirSync(join(installed, "docs")).map((f) => `docs/${f}`)].filter((f) => f.endsWith(".md"))) {
      const text = readFileSync(join(installed, md), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        if (!existsSync(resolve(dirname(join(installed, md)), target!))) broken.push(`${md} → ${target}`);
      }
    }
    // Files of the repository that are not in the package (examples/, test/) are reached on GitHub, not here.
    expect(broken.filter((b) => !/→ (\.\.\/)?(examples|test|bench|soak|clients|scripts|\.ci)\//.test(b))).toEqual([]);
  });

  it("source maps point only at files the package ships", () => {
    const missing: string[] = [];
    const maps = walk(join(installed, "dist")).filter((f) => f.endsWith(".map"));
    expect(maps.length).toBeGreaterThan(0);
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, "utf8")) as { sources: string[] };
      for (const s of sources) if (!existsSync(resolve(dirname(map), s))) missing.push(`${relative(installed, map)} → ${s}`);
    }
    expect(missing).toEqual([]);
  });

  it("ships the /web page bundle (dist/web, built by prepare) and the installed server serves it", async () => {
    for (const f of ["index.html", "app.js", "app.css"]) expect(existsSync(join(installed, "dist", "web", f)), f).toBe(true);
    const file = writeSource(
      project,
      "web-page.mjs",
      `import { EchoEnvironment } from "openenv-connect/envs/echo";
import { serve } from "openenv-connect/server";
const server = await serve(EchoEnvironment, { port: 0 });
const got = {};
for (const f of ["", "app.js", "app.css"]) {
  const r = await fetch(server.url + "/web/" + f);
  got[f || "index.html"] = { status: r.status, type: r.headers.get("content-type"), bytes: (await r.arrayBuffer()).byteLength };
}
await server.close();
console.log(JSON.stringify(got));
`,
    );
    const r = await runNode(project, file);
    expect(r.stderr).toBe("");
    const got = JSON.parse(r.stdout) as Record<string, { status: number; type: string; bytes: number }>;
    for (const [f, type] of Object.entries({ "index.html": "text/html", "app.js": "text/javascript", "app.css": "text/css" })) {
      expect(got[f]?.status, f).toBe(200);
      expect(got[f]?.type, f).toContain(type);
      expect(got[f]?.bytes, f).toBe(statSync(join(installed, "dist", "web", f)).size);
    }
  });

  it("leaves out test-only and bench-only protos and their generated code, and the contract baseline", () => {
    const files = walk(installed).map((f) => relative(installed, f));
    expect(files.filter((f) => /openenv\/(testing|bench)\//.test(f) || f.startsWith("proto/baseline"))).toEqual([]);
    expect(files).toContain("proto/openenv/v1/environment_service.proto");
  });
});

describe("item 13: the documentation's samples (scripts/docs/run.ts runs them; here they are checked and compiled)", () => {
  const samples = collectSamples(repoRoot);

  it("every code block is a known kind, and every sample not run here says why", () => {
    expect(samples.filter((s) => s.kind === "ts").length).toBeGreaterThanOrEqual(10);
    for (const s of samples) if (s.skip !== undefined) expect(s.skip.length, s.where).toBeGreaterThan(10);
    expect(samples.filter((s) => s.kind === "ts" && s.skip !== undefined).map((s) => s.where)).toEqual([]);
  });

  // The one other package a sample may use is the MCP SDK: docs/mcp.md shows a stock MCP client
  // against our server (a dependency of ours, so the consumer project has it installed).
  it("TypeScript samples import only from the package name", () => {
    for (const s of samples.filter((x) => x.kind === "ts")) {
      for (const [, from] of s.code.matchAll(/from\s+"([^"]+)"/g))
        expect(from, s.where).toMatch(/^(openenv-connect(\/|$)|node:|@modelcontextprotocol\/sdk\/)/);
    }
  });

  it("every TypeScript sample compiles strictly against the installed package", async () => {
    const files = samples.filter((s) => s.kind === "ts").map((s) => writeSource(project, sampleFile(s), s.code));
    const tsc = await compileStrict(project, files);
    expect(tsc.output).toBe("");
  });

  it("nothing points outside the repository: no path into a sibling 'shared' folder, every relative link resolves", async () => {
    const grep = await runCommand("git", ["grep", "-n", "\\.\\./shared"], { cwd: repoRoot });
    expect(grep.stdout).toBe("");
    const broken: string[] = [];
    for (const md of docFiles(repoRoot)) {
      for (const [, target] of readFileSync(md, "utf8").matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const path = resolve(dirname(md), target!);
        if (!existsSync(path) || relative(repoRoot, path).startsWith("..")) broken.push(`${relative(repoRoot, md)} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("the installed CLI drives OpenEnv's Python server (test/compat/openenv_standin.py: HTTP/1.1 and /ws only, no Describe)", () => {
  let standin: Standin;
  beforeAll(async () => {
    if (!skipStandin) standin = await startStandin();
  });
  afterAll(async () => standin?.kill());
  const cli = (args: string[]) => runCommand(join(project, "node_modules", ".bin", "openenv"), args, { cwd: project });
  const json = (stdout: string) =>
    stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { observation: Record<string, unknown>; done: boolean });

  it.skipIf(skipStandin)("reset, then an episode in one command (reset, steps, close) with the default --protocol auto", async () => {
    const maze = `${standin.url}/envs/maze`;
    const reset = await cli(["reset", "--url", maze]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(json(reset.stdout)[0]?.observation).toEqual({ legal_actions: [1, 3], current_position: [0, 0], previous_position: [0, 0] });
    expect(reset.stderr).toMatch(/keeps no session between commands/);
    const episode = await cli(["step", "--url", maze, "--reset", "--close", '{"action":3}', '{"action":1}']);
    expect(episode.stderr).toBe("");
    expect(json(episode.stdout).map((r) => r.observation.current_position)).toEqual([
      [0, 0],
      [0, 1],
      [0, 1], // (1,1) is a wall
    ]);
  });

  it.skipIf(skipStandin)("over --protocol websocket, and a bad action is one line with the server's validation error", async () => {
    const echo = `${standin.url}/envs/echo`;
    const ok = await cli(["step", "--url", echo, "--protocol", "websocket", "--reset", "--close", '{"message":"from the tarball"}']);
    expect(ok.stderr).toBe("");
    expect(json(ok.stdout)[1]?.observation).toEqual({ echoed_message: "from the tarball", message_length: 16 });
    const bad = await cli(["step", "--url", `${standin.url}/envs/maze`, "--reset", "--close", '{"action":"up"}']);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toEqual(["Error: invalid action: action: Input should be a valid integer [InvalidArgument]"]);
  });
});

describe("the CLI of the installed package", () => {
  it("prints its version, and the help lists --version", async () => {
    const cli = join(project, "node_modules", ".bin", "openenv");
    const version = await runCommand(cli, ["--version"], { cwd: project });
    expect(version.stdout.trim()).toBe((JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as { version: string }).version);
    const help = await runCommand(cli, ["help"], { cwd: project });
    expect(help.stdout).toMatch(/--version/);
  });
});

const withoutComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules") continue;
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
