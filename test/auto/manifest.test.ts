import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatIssue, loadManifest, ManifestError, parseManifest } from "../../src/auto/manifest.js";
import { ModuleResolutionError, resolveAppModule, runningFromSource } from "../../src/auto/modules.js";

const good = `spec_version: 1
name: demo_env
version: 1.0.0
description: A demo
type: space
runtime: openenv-connect
app: ./environment.js#DemoEnvironment
port: 8000
default_image: openenv-demo:latest
action: openenv.envs.demo.v1.DemoAction
observation: openenv.envs.demo.v1.DemoObservation
state: openenv.envs.demo.v1.DemoState
`;

function errorOf(text: string): ManifestError {
  try {
    parseManifest(text, "envs/demo/openenv.yaml");
  } catch (err) {
    if (err instanceof ManifestError) return err;
    throw err;
  }
  throw new Error("expected a ManifestError");
}

describe("manifest parsing", () => {
  it("reads every field of the schema", () => {
    const { manifest, warnings } = parseManifest(good, "openenv.yaml");
    expect(warnings).toEqual([]);
    expect(manifest).toMatchObject({
      specVersion: 1,
      name: "demo_env",
      version: "1.0.0",
      description: "A demo",
      type: "space",
      runtime: "openenv-connect",
      app: { module: "./environment.js", exportName: "DemoEnvironment" },
      port: 8000,
      defaultImage: "openenv-demo:latest",
      action: "openenv.envs.demo.v1.DemoAction",
      observation: "openenv.envs.demo.v1.DemoObservation",
      state: "openenv.envs.demo.v1.DemoState",
    });
    expect(manifest.positions.app).toEqual({ line: 7, column: 6 });
  });

  it("reads the bundled echo manifest", () => {
    const { manifest } = loadManifest(join(import.meta.dirname, "../../src/envs/echo/openenv.yaml"));
    expect(manifest.name).toBe("echo_env");
    expect(manifest.app.exportName).toBe("EchoEnvironment");
  });

  it("names file, line and field of a bad value", () => {
    const err = errorOf(good.replace("port: 8000", "port: 80a"));
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ file: "envs/demo/openenv.yaml", line: 8, field: "port" });
    expect(err.message).toBe("invalid manifest envs/demo/openenv.yaml:8:7: field 'port': must be an integer from 1 to 65535, got \"80a\"");
  });

  it("names a missing required field", () => {
    const err = errorOf(good.replace(/^app:.*\n/m, ""));
    expect(err.field).toBe("app");
    expect(err.message).toContain("field 'app': required field is missing");
  });

  it("reports every error at once", () => {
    const err = errorOf(
      good.replace("spec_version: 1", "spec_version: 2").replace("action: openenv.envs.demo.v1.DemoAction", "action: DemoAction"),
    );
    expect(err.issues.map((i) => [i.field, i.line])).toEqual([
      ["spec_version", 1],
      ["action", 10],
    ]);
    expect(err.message).toMatch(/openenv\.yaml:10:9: field 'action': 'DemoAction' is not a full protobuf message name/);
  });

  it("rejects a malformed app reference and OpenEnv's class form of action", () => {
    expect(errorOf(good.replace("app: ./environment.js#DemoEnvironment", "app: server.app:app")).issues[0]).toMatchObject({
      field: "app",
      line: 7,
    });
    const legacy = good.replace(
      "action: openenv.envs.demo.v1.DemoAction",
      "action:\n  class_name: CodeAction\n  module: coding_env.client",
    );
    expect(errorOf(legacy).issues[0]).toMatchObject({ field: "action", line: 11 });
  });

  it("refuses a Python runtime with a clear reason", () => {
    const err = errorOf(good.replace("runtime: openenv-connect", "runtime: fastapi"));
    expect(err.issues[0]!.message).toContain("can only be reached by URL");
  });

  it("locates YAML syntax errors and duplicate keys", () => {
    const syntax = errorOf(good.replace("name: demo_env", "name: [demo_env"));
    expect(syntax.issues[0]!.line).toBeGreaterThanOrEqual(2);
    expect(syntax.issues[0]!.field).toBeUndefined();
    const dup = errorOf(`${good}port: 9000\n`);
    expect(dup.issues[0]).toMatchObject({ field: "port", line: 13 });
    expect(errorOf("- a\n- b\n").message).toContain("must be a mapping");
  });

  it("warns about unknown fields, suggesting the known one", () => {
    const { warnings } = parseManifest(`${good}defualt_image: x\n`, "m.yaml");
    expect(warnings).toHaveLength(1);
    expect(formatIssue(warnings[0]!)).toBe("m.yaml:13:1: field 'defualt_image': unknown field (ignored); did you mean 'default_image'?");
  });

  it("accepts an unquoted numeric version with a warning", () => {
    const { manifest, warnings } = parseManifest(good.replace("version: 1.0.0", "version: 1.0"), "m.yaml");
    expect(manifest.version).toBe("1");
    expect(warnings[0]!.field).toBe("version");
  });

  it("reports a missing file as a manifest error", () => {
    expect(() => loadManifest("/nonexistent/openenv.yaml")).toThrow(/openenv\.yaml:1:1: file not found/);
  });
});

describe("module resolution", () => {
  const root = mkdtempSync(join(tmpdir(), "openenv-modres-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function pkg(dir: string, files: string[]): string {
    mkdirSync(join(dir, "src/envs/x"), { recursive: true });
    writeFileSync(join(dir, "package.json"), "{}");
    for (const f of files) {
      mkdirSync(join(dir, f, ".."), { recursive: true });
      writeFileSync(join(dir, f), "export {};");
    }
    return join(dir, "src/envs/x/openenv.yaml");
  }

  it("runs the .ts source in a checkout (tests run from sources)", () => {
    expect(runningFromSource).toBe(true);
    const manifest = pkg(join(root, "checkout"), ["src/envs/x/environment.ts", "dist/src/envs/x/environment.js"]);
    expect(resolveAppModule(manifest, "./environment.js")).toEqual({
      path: join(root, "checkout/src/envs/x/environment.ts"),
      kind: "source",
    });
  });

  it("uses the dist/ mirror of an installed package", () => {
    const manifest = pkg(join(root, "node_modules/openenv-x"), ["dist/src/envs/x/environment.js"]);
    expect(resolveAppModule(manifest, "./environment.js")).toEqual({
      path: join(root, "node_modules/openenv-x/dist/src/envs/x/environment.js"),
      kind: "dist",
    });
  });

  it("prefers built JavaScript inside node_modules even when sources ship too", () => {
    const manifest = pkg(join(root, "node_modules/openenv-y"), ["src/envs/x/environment.ts", "dist/src/envs/x/environment.js"]);
    expect(resolveAppModule(manifest, "./environment.js").kind).toBe("dist");
  });

  it("says what it tried when nothing exists", () => {
    const manifest = pkg(join(root, "empty"), []);
    let err: unknown;
    try {
      resolveAppModule(manifest, "./environment.js");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ModuleResolutionError);
    expect((err as ModuleResolutionError).tried).toEqual([
      join(root, "empty/src/envs/x/environment.ts"),
      join(root, "empty/src/envs/x/environment.js"),
      join(root, "empty/dist/src/envs/x/environment.js"),
    ]);
  });
});
