import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { cleanupTemp, repoRoot, runCommand, tempDir } from "./auto/helpers.js";

/**
 * The Python SDK as a distribution (issue 13): `pip install ./clients/python`
 * into a fresh virtualenv that sees Debian's grpcio and protobuf, offline, and
 * the example run from that virtualenv, not from PYTHONPATH.
 */

let venv: string;
let server: EnvironmentServer;
let install: Awaited<ReturnType<typeof runCommand>>;
beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0 });
  venv = join(tempDir("venv"), "env");
  const mk = await runCommand("/usr/bin/python3", ["-m", "venv", "--system-site-packages", venv]);
  expect(mk.code, mk.stderr).toBe(0);
  // A copy: building in place would leave build/ and *.egg-info in the checkout. Without a
  // build/ left by an earlier in-place install: setuptools would ship its stale copies.
  const source = join(tempDir("python-sdk"), "python");
  cpSync(join(repoRoot, "clients", "python"), source, {
    recursive: true,
    filter: (f) => !/[\\/](build|[^\\/]*\.egg-info|__pycache__)$/.test(f),
  });
  install = await runCommand(join(venv, "bin", "pip"), ["install", "--no-index", "--no-build-isolation", source], {
    env: { ...process.env, PIP_NO_INPUT: "1" },
    timeoutMs: 300_000,
  });
}, 320_000);
afterAll(async () => {
  await server?.close();
  cleanupTemp();
});

const python = (): string => join(venv, "bin", "python");

describe("clients/python as a distribution", () => {
  it("installs offline into a fresh virtualenv with Debian's packages", () => {
    expect(install.code, `${install.stdout}\n${install.stderr}`).toBe(0);
  });

  it("has the npm package's version", async () => {
    const npmVersion = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
    const r = await runCommand(python(), ["-c", "import importlib.metadata as m; print(m.version('openenv-connect'))"]);
    expect(r.stdout.trim()).toBe(npmVersion);
  });

  it("ships the generated modules with typed stubs, without the test and benchmark fixtures", async () => {
    const r = await runCommand(python(), ["-c", "import openenv_connect, pathlib; print(pathlib.Path(openenv_connect.__file__).parent)"], {
      cwd: tempDir("elsewhere"),
    });
    expect(r.code, r.stderr).toBe(0);
    const pkg = r.stdout.trim();
    expect(pkg).toContain(join(venv, "lib"));
    for (const file of [
      "py.typed",
      "_gen/openenv/envs/echo/v1/echo_pb2.py",
      "_gen/openenv/envs/echo/v1/echo_pb2.pyi",
      "_gen/openenv/v1/environment_service_pb2_grpc.pyi",
    ]) {
      expect(existsSync(join(pkg, file)), file).toBe(true);
    }
    expect(readFileSync(join(pkg, "_gen/openenv/envs/echo/v1/echo_pb2.pyi"), "utf8")).toContain('"""The message to echo."""');
    expect(existsSync(join(pkg, "_gen/openenv/testing"))).toBe(false);
    expect(existsSync(join(pkg, "_gen/openenv/bench"))).toBe(false);
  });

  it("ships every generated module but the fixtures (buf/validate too, which the environments import), and each imports", async () => {
    const gen = join(repoRoot, "clients", "python", "gen");
    const modules = walkFiles(gen)
      .filter((f) => f.endsWith("_pb2.py") && !/^openenv\/(testing|bench)\//.test(f))
      .map((f) => f.replace(/\.py$/, "").replaceAll("/", "."));
    expect(modules).toContain("openenv.envs.echo.v1.echo_pb2");
    const script = `import importlib, json, openenv_connect
print(json.dumps({m: importlib.import_module(m).__file__ for m in ${JSON.stringify(modules)}}))`;
    const r = await runCommand(python(), ["-c", script], { cwd: tempDir("elsewhere") });
    expect(r.code, r.stderr).toBe(0);
    const found = JSON.parse(r.stdout) as Record<string, string>;
    for (const m of modules) expect(found[m], m).toContain(join(venv, "lib"));
  });

  it("runs examples/python_rollout.py from the virtualenv (the installed SDK, no PYTHONPATH)", async () => {
    const env = { ...process.env };
    delete env.PYTHONPATH;
    const r = await runCommand(
      python(),
      ["examples/python_rollout.py", "--echo-url", server.url, "--require-maze", "--maze-steps", "200"],
      {
        env,
        timeoutMs: 240_000,
      },
    );
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/maze: state solved=True/);
    const where = await runCommand(python(), ["-c", "import openenv_connect; print(openenv_connect.__file__)"]);
    expect(where.stdout.trim()).toContain(join(venv, "lib"));
  }, 300_000);
});

/** Files under `dir`, relative to it, without __pycache__. */
function walkFiles(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((e) => {
    const rel = prefix === "" ? e.name : `${prefix}/${e.name}`;
    if (e.isDirectory()) return e.name === "__pycache__" ? [] : walkFiles(dir, rel);
    return [rel];
  });
}
