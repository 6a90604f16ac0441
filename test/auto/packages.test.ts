import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AutoAction, AutoEnv } from "../../src/auto/auto-env.js";
import { clearDiscoveryCache, discoverEnvironments } from "../../src/auto/discovery.js";
import { installFromHub, RemoteCodeRefusedError, remoteCodeWarning } from "../../src/auto/hub.js";
import { EnvClient } from "../../src/client/env-client.js";
import {
  cleanupTemp,
  execText,
  isRunning,
  npm,
  packThisPackage,
  projectDir,
  runCli,
  runCommand,
  startCliServer,
  tempDir,
} from "./helpers.js";

/**
 * The package as users get it: this repository packed with `npm pack`, an
 * environment package made by `openenv init`, and a Hub Space served from a
 * local git repository (`git+file://`). npm prefers its cache throughout
 * (what this repository's install cached is used as it is), so it works on a
 * fresh machine with an empty cache too.
 */

let tarball: string;
beforeAll(async () => {
  tarball = await packThisPackage();
}, 180_000);
afterAll(cleanupTemp, 120_000);

describe("openenv-connect installed from its tarball", () => {
  let project: string;
  beforeAll(async () => {
    project = projectDir("installed");
    const r = await npm(["install", tarball], project);
    expect(r.code, r.stderr).toBe(0);
  }, 180_000);

  it("ships the bundled manifests and compiled environments, and the installed CLI runs them from dist/", async () => {
    const installed = join(project, "node_modules", "openenv-connect");
    const files = (await execText("find", [".", "-path", "./node_modules", "-prune", "-o", "-type", "f", "-print"], installed)).split("\n");
    expect(files).toContain("./src/envs/echo/openenv.yaml");
    expect(files).toContain("./dist/src/envs/echo/environment.js");
    // The TypeScript sources ship for the source maps, but the installed copy runs dist/.
    expect(files).toContain("./src/envs/echo/environment.ts");
    const cli = join(project, "node_modules", ".bin", "openenv");
    const list = await runCommand(cli, ["list", "--json"], { cwd: project });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ env_key: string; source: string }>).find((e) => e.env_key === "echo")?.source).toBe(
      "bundled",
    );
    const info = JSON.parse((await runCommand(cli, ["info", "echo", "--json"], { cwd: project })).stdout) as { module: string };
    expect(info.module).toBe(join(installed, "dist/src/envs/echo/environment.js"));
  });

  it("runs the guide's flow in a user's script, with plain node (child-process provider from dist/)", async () => {
    const script = join(project, "guide.mjs");
    writeFileSync(
      script,
      `import { AutoAction, AutoEnv } from "openenv-connect";
AutoEnv.listEnvironments();
const env = await AutoEnv.fromEnv("echo");
const EchoAction = await AutoAction.fromEnv("echo");
const first = await env.reset();
const step = await env.step(new EchoAction({ message: "Hello, OpenEnv!" }));
console.log(JSON.stringify({ first: first.observation.echoedMessage, echoed: step.observation.echoedMessage, reward: step.reward, pid: env.running.pid }));
await env.close();
try {
  await AutoEnv.fromEnv("ech0-env");
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
}
`,
    );
    const r = await runCommand(process.execPath, [script], { cwd: project });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toBe("Available Environments:");
    expect(lines).toContain("echo           : Echoes each message back; reward is 0.1 per character. (v1.0.0)");
    const result = JSON.parse(lines.at(-2)!) as { first: string; echoed: string; reward: number; pid: number };
    expect(result).toMatchObject({ first: "Echo environment ready!", echoed: "Hello, OpenEnv!" });
    expect(result.reward).toBeCloseTo(1.5);
    expect(isRunning(result.pid)).toBe(false);
    expect((JSON.parse(lines.at(-1)!) as { error: string }).error).toMatch(
      /^Unknown environment 'ech0'\.\nDid you mean: echo\?\nAvailable environments: /,
    );
  });

  it("serves echo from the installed copy, with plain node", async () => {
    const server = await startCliServer(["echo"], {
      cwd: project,
      bin: join(project, "node_modules", "openenv-connect", "bin", "openenv.js"),
    });
    try {
      await using env = await EnvClient.connect({ baseUrl: server.url });
      await env.reset();
      const r = await env.step({ message: "installed" } as never);
      expect((r.observation as unknown as { echoedMessage: string }).echoedMessage).toBe("installed");
    } finally {
      await server.stop();
    }
  });

  it("serves browser from the installed copy (playwright-core came as its optional dependency) to a user's script", async () => {
    expect(existsSync(join(project, "node_modules", "playwright-core", "package.json"))).toBe(true);
    const list = await runCommand(join(project, "node_modules", ".bin", "openenv"), ["list", "--json"], { cwd: project });
    expect((JSON.parse(list.stdout) as Array<{ env_key: string; source: string }>).find((e) => e.env_key === "browser")?.source).toBe(
      "bundled",
    );
    const server = await startCliServer(["browser"], {
      cwd: project,
      bin: join(project, "node_modules", "openenv-connect", "bin", "openenv.js"),
    });
    try {
      // The environment's README example, with plain node and the package's own client.
      const script = join(project, "browser.mjs");
      writeFileSync(
        script,
        `import { EnvClient } from "openenv-connect/client";
const env = await EnvClient.connect({ baseUrl: process.argv[2] });
try {
  let r = await env.reset({ seed: 7, options: { task: "click-button", screenshot: { width: 200 } } });
  const label = /"(.*)"/.exec(r.observation.goal)[1];
  const ref = new RegExp('button "' + label + '" \\\\[ref=(e\\\\d+)\\\\]').exec(r.observation.axtreeTxt)[1];
  const shot = r.observation.screenshot;
  r = await env.step({ action: { case: "click", value: { elementId: ref } } });
  console.log(JSON.stringify({ label, ref, terminated: r.terminated, reward: r.reward, png: shot.data instanceof Uint8Array && shot.data[1] === 0x50, mime: shot.mimeType, width: shot.width }));
} finally {
  await env.close();
}
`,
      );
      const r = await runCommand(process.execPath, [script, server.url], { cwd: project });
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
      expect(out).toMatchObject({ terminated: true, reward: 1, png: true, mime: "image/png", width: 200 });
      expect(out.ref).toMatch(/^e\d+$/);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 120_000);
});

describe("openenv init", () => {
  let dir: string;
  beforeAll(async () => {
    const parent = tempDir("init");
    const r = await runCli(["init", "demo", "--openenv-connect", `file:${tarball}`], { cwd: parent });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Created openenv-demo \(environment 'demo'\) in demo\n/);
    dir = join(parent, "demo");
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
  }, 180_000);

  it("writes the generated code that buf + protoc-gen-es produce from its proto", async () => {
    const file = join(dir, "gen/openenv/envs/demo/v1/demo_pb.ts");
    const written = readFileSync(file, "utf8");
    const r = await npm(["run", "generate"], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(written);
  });

  it("passes its own test", async () => {
    const r = await npm(["test"], dir);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^(#|ℹ) pass 1$/m); // TAP or spec reporter, depending on the terminal
  });

  it("passes openenv validate, from this checkout (TypeScript sources) and from its installed CLI (dist)", async () => {
    const fromCheckout = await runCli(["validate", dir]);
    expect(fromCheckout.code, fromCheckout.stdout).toBe(0);
    expect(fromCheckout.stdout).toMatch(/^PASS {2}module {13}\.\/src\/environment\.js → src\/environment\.ts \(source\)$/m);
    expect(fromCheckout.stdout).toMatch(/^PASS {2}rollout /m);
    const installedCli = await runCommand(join(dir, "node_modules", ".bin", "openenv"), ["validate", "."], { cwd: dir });
    expect(installedCli.code, installedCli.stdout).toBe(0);
    expect(installedCli.stdout).toMatch(/^PASS {2}module {13}\.\/src\/environment\.js → dist\/src\/environment\.js \(dist\)$/m);
    expect(installedCli.stdout.trim().split("\n").at(-1)).toMatch(/^\[OK\] .*: 9 checks passed$/);
  });

  it("is found by name inside its own project (issue 13 item 12)", async () => {
    for (const name of ["demo", "demo-env", "demo_env"]) {
      const r = await runCommand(join(dir, "node_modules", ".bin", "openenv"), ["info", name, "--json"], { cwd: join(dir, "src") });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ env_key: "demo", source: "project" });
    }
  });

  it("fails validation with the manifest's file, line and field", async () => {
    const copy = tempDir("init-broken");
    cpSync(dir, copy, { recursive: true, filter: (src) => !src.includes("node_modules") });
    const manifest = join(copy, "openenv.yaml");
    writeFileSync(manifest, readFileSync(manifest, "utf8").replace("action: openenv.envs.demo.v1.DemoAction", "action: DemoAction"));
    const r = await runCli(["validate", copy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`FAIL  manifest  ${manifest}:10:9: field 'action': 'DemoAction' is not a full protobuf message name`);
  });

  it("refuses a non-empty directory", async () => {
    const r = await runCli(["init", "demo", "--dir", dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("exists and is not empty");
  });
});

describe("environments from a Hub Space (a local git repository)", () => {
  let hub: string;
  let project: string;
  beforeAll(async () => {
    hub = tempDir("hub");
    const space = join(hub, "spaces", "user", "demo");
    const init = await runCli(["init", "demo", "--dir", space, "--openenv-connect", `file:${tarball}`]);
    expect(init.code, init.stderr).toBe(0);
    for (const args of [
      ["init", "-q"],
      ["add", "-A"],
      ["-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "demo environment"],
    ]) {
      await execText("git", args, space);
    }
    project = projectDir("hub-project");
    process.env.npm_config_prefer_offline = "true";
  }, 120_000);
  afterAll(() => {
    delete process.env.npm_config_prefer_offline;
    clearDiscoveryCache();
  });

  it("refuses without a terminal, at once, showing OpenEnv's warning", async () => {
    const started = Date.now();
    const r = await runCli(["install", "user/demo", "--project", project], {
      env: { ...process.env, OPENENV_HUB_URL: `file://${hub}`, OPENENV_TRUST_REMOTE_CODE: "" },
    });
    expect(r.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(r.stderr).toContain(remoteCodeWarning("user/demo", `file://${hub}/spaces/user/demo`));
    expect(r.stderr).toContain("Error: Refusing to install remote code: there is no terminal to confirm on (stdin is not a TTY).");
    expect(readFileSync(join(project, "package.json"), "utf8")).not.toContain("openenv-demo");
  });

  it("asks y/N on a terminal: no installs nothing", async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    const output = new PassThrough();
    let shown = "";
    output.on("data", (d: Buffer) => (shown += String(d)));
    const pending = installFromHub("user/demo", { projectDir: project, hubUrl: `file://${hub}`, prompt: { input, output } });
    input.write("n\n");
    await expect(pending).rejects.toThrow(RemoteCodeRefusedError);
    await expect(pending).rejects.toThrow("Installation cancelled by user.");
    expect(shown).toContain("SECURITY WARNING: Remote Code Installation");
    expect(shown).toContain("Do you want to proceed? [y/N]: ");
    expect(readFileSync(join(project, "package.json"), "utf8")).not.toContain("openenv-demo");
  });

  it("installs after 'y', then AutoEnv runs it locally (the Space is down) and AutoAction types it", async () => {
    const input = Object.assign(new PassThrough(), { isTTY: true });
    const output = new PassThrough();
    output.resume();
    const progress: string[] = [];
    const pending = AutoEnv.fromEnv("user/demo", {
      projectDir: project,
      hubUrl: `file://${hub}`,
      spaceUrl: "http://127.0.0.1:9", // nothing listens: run the installed package locally
      prompt: { input, output },
      onProgress: (m) => progress.push(m),
      waitTimeoutMs: 60_000,
    });
    input.write("y\n");
    const env = await pending;
    try {
      expect(progress).toContain(`npm install --prefix ${project} --no-audit --no-fund git+file://${hub}/spaces/user/demo`);
      expect(progress.some((m) => m.includes("is not reachable; running demo locally"))).toBe(true);
      expect(JSON.parse(readFileSync(join(project, "package.json"), "utf8")).dependencies).toEqual({
        "openenv-demo": `git+file://${hub}/spaces/user/demo`,
      });
      expect(env.envInfo).toMatchObject({ envKey: "demo", source: "installed", package: "openenv-demo" });
      expect(env.running.provider).toBe("process");
      const DemoAction = await AutoAction.fromEnv("user/demo", { projectDir: project, hubUrl: `file://${hub}` }); // installed: no prompt
      const first = await env.reset();
      expect(first.observation).toMatchObject({ echoedMessage: "Demo environment ready!" });
      const r = await env.step(new DemoAction({ message: "from the hub" }));
      expect(r.observation).toMatchObject({ echoedMessage: "from the hub", messageLength: 12 });
    } finally {
      await env.close();
    }
    expect(isRunning(env.running.pid!)).toBe(false);
    const installed = discoverEnvironments({ projectDir: project, refresh: true }).environments.get("demo");
    expect(installed?.manifestPath).toBe(join(project, "node_modules/openenv-demo/openenv.yaml"));
  }, 300_000); // npm installs the Space and this package (with playwright-core, its optional dependency); tens of seconds on a loaded machine

  it("is discovered by name once installed, and by the CLI", async () => {
    await using env = await AutoEnv.fromEnv("demo-env", { projectDir: project, provider: "in-process" });
    await env.reset();
    expect((await env.step({ message: "x" } as never)).reward).toBeCloseTo(0.1);
    const list = await runCli(["list"], { cwd: project });
    expect(list.stdout).toMatch(/^demo +0\.1\.0 +openenv-demo +Demo: an openenv-connect environment$/m);
    expect(list.stderr).toBe("");
  });

  it("installs without asking when OPENENV_TRUST_REMOTE_CODE=1", async () => {
    const other = projectDir("hub-trusted");
    const r = await runCli(["install", "user/demo", "--project", other], {
      env: { ...process.env, OPENENV_HUB_URL: `file://${hub}`, OPENENV_TRUST_REMOTE_CODE: "1" },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("Installed openenv-demo: environment 'demo' (Demo: an openenv-connect environment)\n");
    expect(r.stderr).not.toContain("SECURITY WARNING");
    expect(r.stderr).toMatch(/^openenv: npm install --prefix /m);
  }, 300_000);

  it("points at this repository's tarball, not the network", () => {
    const pkg = JSON.parse(readFileSync(join(project, "node_modules/openenv-demo/package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    expect(pkg.dependencies["openenv-connect"]).toBe(`file:${tarball}`);
  });
});
