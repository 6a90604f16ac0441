import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { clearDiscoveryCache, discoverEnvironments, environmentFromPath, findEnvironment } from "../../src/auto/discovery.js";
import { loadEnvironment } from "../../src/auto/load.js";
import { ManifestError } from "../../src/auto/manifest.js";
import { UnknownEnvironmentError } from "../../src/auto/names.js";
import { bundledEnvironments } from "../../src/envs/bundled.js";
import { EchoEnvironment } from "../../src/envs/echo/environment.js";
import { cleanupTemp, expectedKeys, fakeEnvPackage, repoRoot, tempDir } from "./helpers.js";

afterAll(cleanupTemp);
beforeEach(() => clearDiscoveryCache());

describe("bundled environments", () => {
  it("are found from their manifests, with the .ts source in a checkout", async () => {
    const project = tempDir("disc-empty");
    const echo = discoverEnvironments({ projectDir: project }).environments.get("echo");
    expect(echo).toMatchObject({
      envKey: "echo",
      name: "echo_env",
      source: "bundled",
      package: "openenv-connect",
      manifestPath: join(repoRoot, "src/envs/echo/openenv.yaml"),
      envClass: "EchoEnvironment",
      actionClass: "EchoAction",
      actionType: "openenv.envs.echo.v1.EchoAction",
      defaultImage: "openenv-echo:latest",
      port: 8000,
    });
    const loaded = await loadEnvironment(echo!);
    expect(loaded.source).toBe(EchoEnvironment);
    expect(loaded.module).toEqual({ path: join(repoRoot, "src/envs/echo/environment.ts"), kind: "source" });
  });

  it("every folder under src/envs with a manifest is bundled, and bundled.ts follows it", async () => {
    const { readdirSync } = await import("node:fs");
    const folders = readdirSync(join(repoRoot, "src/envs"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(repoRoot, "src/envs", d.name, "openenv.yaml")))
      .map((d) => d.name);
    const bundled = [...discoverEnvironments({ installed: false }).environments.values()].filter((e) => e.source === "bundled");
    expect(bundled.map((e) => e.manifestPath).sort()).toEqual(folders.map((f) => join(repoRoot, "src/envs", f, "openenv.yaml")).sort());
    expect(Object.keys(bundledEnvironments).sort()).toEqual(bundled.map((e) => e.envKey).sort());
    expect(await bundledEnvironments.echo!()).toBe(EchoEnvironment);
  });
});

describe("installed packages", () => {
  it("finds openenv-* packages and packages that declare a manifest, skips others, reports broken ones", () => {
    const project = tempDir("disc-installed", true);
    const nm = join(project, "node_modules");
    fakeEnvPackage(nm, { key: "coding" });
    fakeEnvPackage(nm, { key: "maze", packageName: "@acme/maze-pack", declare: true });
    fakeEnvPackage(nm, { key: "wordle", packageName: "wordle-for-rl", declare: true });
    fakeEnvPackage(nm, { key: "broken", manifest: "spec_version: 1\nname: broken_env\napp: ./environment.js\n" });
    mkdirSync(join(nm, "left-pad"));
    writeFileSync(join(nm, "left-pad/package.json"), JSON.stringify({ name: "left-pad", version: "1.0.0" }));
    mkdirSync(join(nm, "openenv-tools"));
    writeFileSync(join(nm, "openenv-tools/package.json"), JSON.stringify({ name: "openenv-tools", version: "1.0.0" }));
    mkdirSync(join(nm, "declares-nothing"));
    writeFileSync(
      join(nm, "declares-nothing/package.json"),
      JSON.stringify({ name: "declares-nothing", openenv: { manifest: "nope.yaml" } }),
    );

    const d = discoverEnvironments({ projectDir: project });
    expect([...d.environments.keys()]).toEqual(expectedKeys("coding", "maze", "wordle"));
    expect(d.environments.get("coding")).toMatchObject({ source: "installed", package: "openenv-coding", packageVersion: "0.1.0" });
    expect(d.environments.get("maze")).toMatchObject({
      package: "@acme/maze-pack",
      manifestPath: join(nm, "@acme/maze-pack/env/openenv.yaml"),
    });
    expect(d.environments.get("wordle")?.package).toBe("wordle-for-rl");
    const broken = d.problems.find((p) => p.path.includes("openenv-broken"));
    expect(broken?.error).toBeInstanceOf(ManifestError);
    expect(broken?.message).toMatch(/openenv-broken\/openenv\.yaml:3:6: field 'app': '.\/environment.js' must be/);
    expect(d.problems.some((p) => p.message.includes("declares-nothing declares manifest nope.yaml but no such file exists"))).toBe(true);
    expect(d.problems).toHaveLength(2);
  });

  it("names the broken manifest when that environment is asked for", () => {
    const project = tempDir("disc-broken", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "broken", manifest: "spec_version: 1\nname: broken_env\nport: 0\n" });
    const err = (() => {
      try {
        findEnvironment("broken-env", { projectDir: project });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ManifestError);
    // Missing fields are reported at the top of the file, then the bad values in file order.
    expect((err as ManifestError).issues.map((i) => [i.field, i.line])).toEqual([
      ["app", 1],
      ["action", 1],
      ["observation", 1],
      ["state", 1],
      ["port", 3],
    ]);
  });

  it("looks up every name form and suggests close names for typos", () => {
    const project = tempDir("disc-names", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "coding" });
    for (const name of ["coding", "coding-env", "coding_env", "coding-env:latest", "openenv-coding"]) {
      expect(findEnvironment(name, { projectDir: project }).envKey).toBe("coding");
    }
    let err: unknown;
    try {
      findEnvironment("cooding-env", { projectDir: project });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnknownEnvironmentError);
    expect((err as Error).message).toBe(
      `Unknown environment 'cooding'.\nDid you mean: coding?\nAvailable environments: ${expectedKeys("coding").join(", ")}`,
    );
  });

  it("prefers the nearest node_modules, then installed over bundled, and lists what is hidden", () => {
    const outer = tempDir("disc-outer", true);
    const inner = join(outer, "packages", "app");
    mkdirSync(inner, { recursive: true });
    fakeEnvPackage(join(outer, "node_modules"), { key: "coding", version: "1.0.0" });
    fakeEnvPackage(join(inner, "node_modules"), { key: "coding", version: "2.0.0" });
    fakeEnvPackage(join(inner, "node_modules"), { key: "echo", packageName: "openenv-echo", version: "9.0.0" });
    const d = discoverEnvironments({ projectDir: inner });
    expect(d.environments.get("coding")?.version).toBe("2.0.0");
    expect(d.environments.get("echo")?.package).toBe("openenv-echo");
    const hidden = d.shadowed.map((s) => `${s.envKey}:${s.source}:${s.package}@${s.version}`);
    expect(hidden).toContain("coding:installed:openenv-coding@1.0.0");
    expect(hidden).toContain("echo:bundled:openenv-connect@1.0.0");
    expect(d.shadowed.every((s) => s.envKey === "coding" || s.envKey === "echo")).toBe(true);
  });

  it("caches its scan until cleared or refreshed", () => {
    const project = tempDir("disc-cache", true);
    const first = discoverEnvironments({ projectDir: project });
    expect(discoverEnvironments({ projectDir: project })).toBe(first);
    fakeEnvPackage(join(project, "node_modules"), { key: "late" });
    expect(discoverEnvironments({ projectDir: project }).environments.has("late")).toBe(false);
    expect(discoverEnvironments({ projectDir: project, refresh: true }).environments.has("late")).toBe(true);
    fakeEnvPackage(join(project, "node_modules"), { key: "later" });
    clearDiscoveryCache();
    expect(discoverEnvironments({ projectDir: project }).environments.has("later")).toBe(true);
  });

  it("imports nothing until an environment is used", async () => {
    const project = tempDir("disc-lazy", true);
    const marker = join(project, "imported.txt");
    fakeEnvPackage(join(project, "node_modules"), { key: "lazy", markerFile: marker });
    const info = findEnvironment("lazy", { projectDir: project });
    expect(info.description).toBe("Fake lazy environment");
    expect(existsSync(marker)).toBe(false);
    const loaded = await loadEnvironment(info);
    expect(existsSync(marker)).toBe(true);
    expect(loaded.spec.action.typeName).toBe("openenv.envs.lazy.v1.LazyAction");
    expect(loaded.module.kind).toBe("js");
  });

  it("refuses a module whose messages differ from the manifest, naming the field and line", async () => {
    const project = tempDir("disc-mismatch", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "odd", actionType: "openenv.envs.odd.v1.OtherAction" });
    const err = await loadEnvironment(findEnvironment("odd", { projectDir: project })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect((err as ManifestError).message).toMatch(
      /openenv\.yaml:9:9: field 'action': the manifest says openenv\.envs\.odd\.v1\.OtherAction, but OddEnvironment\.spec\.action is openenv\.envs\.odd\.v1\.OddAction/,
    );
  });

  it("describes an environment by path", () => {
    const project = tempDir("disc-path", true);
    const dir = fakeEnvPackage(join(project, "local"), { key: "here", packageName: "here" });
    expect(environmentFromPath(dir)).toMatchObject({ envKey: "here", source: "path", package: "here" });
    expect(environmentFromPath(join(dir, "openenv.yaml")).envKey).toBe("here");
  });
});
