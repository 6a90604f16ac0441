import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { create, type DescMessage } from "@bufbuild/protobuf";
import { type EnvInfo, environmentFromPath } from "../auto/discovery.js";
import { type LoadedEnvironment, loadEnvironment } from "../auto/load.js";
import { formatIssue, ManifestError } from "../auto/manifest.js";
import { resolveAppModule } from "../auto/modules.js";
import { EnvClient } from "../client/env-client.js";
import { createEnvironmentRouter } from "../server/router.js";
import { type CheckResult, report, type ValidationReport } from "./check.js";

interface PackageJson {
  name?: string;
  type?: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  openenv?: { manifest?: string | string[] };
}

/**
 * Local checks of an environment package (a directory with `openenv.yaml`):
 * the manifest, package.json (discoverable, depends on openenv-connect), the
 * module and its class, the .proto sources, the README, and a short rollout
 * (reset, step with the default Action, state) through the in-process transport.
 */
export async function validatePackage(path: string): Promise<ValidationReport> {
  const abs = resolve(path);
  const manifestPath = existsSync(abs) && statSync(abs).isDirectory() ? join(abs, "openenv.yaml") : abs;
  const checks: CheckResult[] = [];
  const add = (name: string, status: CheckResult["status"], detail: string): void => {
    checks.push({ name, group: "package", status, detail });
  };
  let info: EnvInfo;
  try {
    info = environmentFromPath(manifestPath);
  } catch (err) {
    const detail = err instanceof ManifestError ? err.issues.map(formatIssue).join("; ") : (err as Error).message;
    add("manifest", "fail", detail);
    return report(manifestPath, checks);
  }
  add("manifest", "pass", `${relative(process.cwd(), manifestPath) || manifestPath}: ${info.name} ${info.version}, ${info.actionType}`);
  for (const w of info.warnings) add("manifest_warning", "warn", formatIssue(w));

  const pkgPath = join(info.packageDir, "package.json");
  let pkg: PackageJson | undefined;
  try {
    pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as PackageJson;
  } catch (err) {
    add("package_json", "fail", `${pkgPath}: ${(err as Error).message}`);
  }
  if (pkg !== undefined) {
    const problems: string[] = [];
    if (typeof pkg.name !== "string" || pkg.name === "") problems.push("no name");
    if (pkg.type !== "module") problems.push('not "type": "module" (the environment module is ESM)');
    if (problems.length > 0) add("package_json", "fail", `${pkgPath}: ${problems.join("; ")}`);
    else add("package_json", "pass", `${pkg.name}`);
    const rel = relative(info.packageDir, manifestPath).split("\\").join("/");
    const declared = pkg.openenv?.manifest;
    const patterns = declared === undefined ? [] : typeof declared === "string" ? [declared] : declared;
    const matches = patterns.some((p) =>
      new RegExp(
        `^${p
          .replace(/^\.\//, "")
          .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
          .replace(/\*/g, "[^/]*")}$`,
      ).test(rel),
    );
    if (matches) add("discoverable", "pass", `package.json declares "openenv": {"manifest": ${JSON.stringify(declared)}}`);
    else if (pkg.name?.startsWith("openenv-") === true && rel === "openenv.yaml")
      add("discoverable", "pass", `named ${pkg.name} with openenv.yaml at its root`);
    else
      add(
        "discoverable",
        "fail",
        `installed, this package would not be discovered: add "openenv": {"manifest": "${rel}"} to package.json (or name it openenv-*)`,
      );
    if (pkg.name === "openenv-connect") add("dependency", "pass", "bundled with openenv-connect");
    else if (pkg.dependencies?.["openenv-connect"] !== undefined || pkg.peerDependencies?.["openenv-connect"] !== undefined) {
      add("dependency", "pass", `openenv-connect ${pkg.dependencies?.["openenv-connect"] ?? pkg.peerDependencies?.["openenv-connect"]}`);
    } else add("dependency", "fail", "package.json does not depend on openenv-connect");
  }

  let loaded: LoadedEnvironment | undefined;
  try {
    const module = resolveAppModule(manifestPath, info.module);
    add("module", "pass", `${info.module} → ${relative(info.packageDir, module.path)} (${module.kind})`);
    loaded = await loadEnvironment(info);
    add("environment_class", "pass", `${info.envClass}: spec matches the manifest's message types`);
  } catch (err) {
    const detail = err instanceof ManifestError ? err.issues.map(formatIssue).join("; ") : (err as Error).message;
    add(checks.some((c) => c.name === "module") ? "environment_class" : "module", "fail", detail);
  }

  const protoFile = findProto(info);
  if (protoFile !== undefined) add("proto", "pass", `${relative(info.packageDir, protoFile)} defines ${info.actionClass}`);
  else add("proto", "warn", `no .proto file under ${info.packageDir} defines ${info.actionType}; ship the contract with the package`);
  const readme = [join(dirname(manifestPath), "README.md"), join(info.packageDir, "README.md")].find((p) => existsSync(p));
  if (readme !== undefined) add("readme", "pass", relative(info.packageDir, readme));
  else add("readme", "warn", "no README.md next to the manifest");

  if (loaded !== undefined) checks.push(await rollout(loaded));
  return report(manifestPath, checks);
}

async function rollout(loaded: LoadedEnvironment): Promise<CheckResult> {
  const router = createEnvironmentRouter(loaded.source, { maxSessions: 1 });
  const client = new EnvClient({ transport: "in-process", router, spec: loaded.spec });
  try {
    await client.connect();
    await client.reset({ seed: 1 });
    let step: string;
    const schema: DescMessage = loaded.spec.action;
    try {
      const r = await client.step(create(schema) as never);
      step = `step with the default ${loaded.info.actionClass} → reward ${r.reward ?? "none"}`;
    } catch (err) {
      step = `step with the default ${loaded.info.actionClass} refused (${(err as Error).message})`;
    }
    await client.state();
    return { name: "rollout", group: "package", status: "pass", detail: `reset → ${step} → state (in-process)` };
  } catch (err) {
    return { name: "rollout", group: "package", status: "fail", detail: (err as Error).message };
  } finally {
    await client.close().catch(() => {});
    await router.close();
  }
}

function findProto(info: EnvInfo): string | undefined {
  const pkg = info.actionType.slice(0, info.actionType.lastIndexOf("."));
  const packageLine = new RegExp(`^\\s*package\\s+${pkg.replace(/\./g, "\\.")}\\s*;`, "m");
  const messageLine = new RegExp(`^\\s*message\\s+${info.actionClass}\\s*\\{`, "m");
  const stack = [info.packageDir];
  let budget = 2_000;
  while (stack.length > 0 && budget-- > 0) {
    const dir = stack.pop()!;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e === "node_modules" || e.startsWith(".") || e === "dist" || e === "gen") continue;
      const p = join(dir, e);
      if (e.endsWith(".proto")) {
        const text = readFileSync(p, "utf8");
        if (packageLine.test(text) && messageLine.test(text)) return p;
      } else if (statSync(p).isDirectory()) stack.push(p);
    }
  }
  return undefined;
}
