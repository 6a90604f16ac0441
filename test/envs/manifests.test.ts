import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { bundledEnvironments } from "../../src/envs/bundled.js";
import type { EnvironmentClass } from "../../src/server/environment.js";

const envsDir = path.resolve(import.meta.dirname, "../../src/envs");
const names = fs.readdirSync(envsDir).filter((d) => fs.existsSync(path.join(envsDir, d, "openenv.yaml")));

describe("environment manifests", () => {
  it("cover every bundled environment", () => {
    expect(names.sort()).toEqual(Object.keys(bundledEnvironments).sort());
    expect(names).toEqual(expect.arrayContaining(["browser", "chat", "coding", "connect4", "maze", "wordle"]));
  });

  it.each(names)("%s: the manifest matches the environment's spec and its app export", async (name) => {
    const manifest = parse(fs.readFileSync(path.join(envsDir, name, "openenv.yaml"), "utf8")) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      spec_version: 1,
      name: `${name}_env`,
      version: "1.0.0",
      type: "space",
      runtime: "openenv-connect",
      port: 8000,
    });
    expect(manifest.default_image).toBe(`openenv-${name}:latest`);
    expect(typeof manifest.description).toBe("string");
    const [modulePath, exportName] = String(manifest.app).split("#");
    expect(modulePath).toBe("./environment.js");
    const module = (await import(path.join(envsDir, name, "environment.js"))) as Record<string, EnvironmentClass>;
    const cls = module[exportName];
    expect(cls?.spec, `${exportName} has a static spec`).toBeDefined();
    expect(cls.spec.name).toBe(name);
    expect([manifest.action, manifest.observation, manifest.state]).toEqual([
      cls.spec.action.typeName,
      cls.spec.observation.typeName,
      cls.spec.state.typeName,
    ]);
    expect(await bundledEnvironments[name]()).toBe(cls);
    // echo predates this check and documents itself in the project README.
    if (name !== "echo") expect(fs.existsSync(path.join(envsDir, name, "README.md")), `${name}/README.md`).toBe(true);
  });
});
