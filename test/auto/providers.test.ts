import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { AutoEnv } from "../../src/auto/auto-env.js";
import { checkDocker, DockerImageMissingError, DockerUnavailableError, startDocker } from "../../src/auto/providers/docker.js";
import { probeHealth } from "../../src/auto/providers/health.js";
import { startInMemory, startInProcess } from "../../src/auto/providers/in-process.js";
import { startProcess } from "../../src/auto/providers/process.js";
import type { RunningEnvironment } from "../../src/auto/providers/types.js";
import { EnvClient } from "../../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../../src/envs/echo/environment.js";
import { cleanupTemp, isRunning, processTable, repoRoot, runCli, runCommand, startCliServer, tempDir, waitFor } from "./helpers.js";

afterAll(cleanupTemp);

/** A short echo rollout through a client of the running server. */
async function rollout(running: RunningEnvironment): Promise<void> {
  const env = await EnvClient.connect({
    baseUrl: running.baseUrl,
    router: running.router,
    transport: running.baseUrl === undefined ? "in-process" : "connect",
    spec: echoSpec,
  });
  const first = await env.reset({ seed: 1 });
  expect(first.observation.echoedMessage).toBe("Echo environment ready!");
  const r = await env.step({ message: "provider" });
  expect(r.observation.echoedMessage).toBe("provider");
  expect(r.reward).toBeCloseTo(0.8);
  expect((await env.state()).stepCount).toBe(1);
  await env.close();
}

/** Processes whose command line runs this checkout's CLI serving `target`. */
function servers(target: string): number[] {
  return processTable()
    .filter((p) => p.cmdline.includes(join(repoRoot, "bin", "openenv.js")) && p.cmdline.includes(` serve ${target}`))
    .map((p) => p.pid);
}

describe("in-process provider", () => {
  it("serves on an ephemeral loopback port and stops", async () => {
    const running = await startInProcess(EchoEnvironment);
    expect(running.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await probeHealth(running.baseUrl!)).toBe(true);
    await rollout(running);
    await running.stop();
    expect(await probeHealth(running.baseUrl!, 1_000)).toBe(false);
  });

  it("runs with the in-process transport and no socket", async () => {
    const running = startInMemory(EchoEnvironment);
    expect(running.baseUrl).toBeUndefined();
    await rollout(running);
    expect(running.router!.sessions.active).toBe(0);
    await running.stop();
  });
});

describe("child-process provider", () => {
  it("starts a child node process, serves a rollout and kills it on stop()", async () => {
    const progress: string[] = [];
    const running = await startProcess(join(repoRoot, "src/envs/echo/openenv.yaml"), {
      onProgress: (m) => progress.push(m),
      waitTimeoutMs: 60_000,
    });
    const pid = running.pid!;
    expect(isRunning(pid)).toBe(true);
    expect(processTable().find((p) => p.pid === pid)?.ppid).toBe(process.pid);
    expect(progress[0]).toMatch(/^starting .*openenv\.yaml in a child process$/);
    expect(progress.at(-1)).toMatch(/is serving on http:\/\/127\.0\.0\.1:\d+ \(pid \d+/);
    await rollout(running);
    await running.stop();
    expect(isRunning(pid)).toBe(false);
    expect(await probeHealth(running.baseUrl!, 1_000)).toBe(false);
  });

  it("reports a child that dies before it is ready, with its stderr", async () => {
    const dir = tempDir("prov-bad");
    writeFileSync(join(dir, "openenv.yaml"), "spec_version: 1\nname: bad\n");
    const err = await startProcess(dir, { waitTimeoutMs: 60_000 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exited with code 1 before it was ready:\nError: invalid manifest/);
    expect(servers(dir)).toEqual([]);
  });

  it.each([
    ["is killed (SIGKILL)", true],
    ["exits without calling stop()", false],
  ])("leaves no orphan when its parent %s", async (_, kill) => {
    const dir = tempDir("prov-orphan", true);
    const script = join(dir, "parent.ts");
    writeFileSync(
      script,
      `import { startProcess } from ${JSON.stringify(join(repoRoot, "src/auto/providers/process.ts"))};
const running = await startProcess("echo", { waitTimeoutMs: 60_000 });
console.log(JSON.stringify({ pid: running.pid, url: running.baseUrl }));
// Stay until told: then exit by running out of work, never calling running.stop().
process.stdin.once("data", () => process.stdin.destroy());
`,
    );
    const parent = spawn(process.execPath, ["--import", "tsx", script], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve) => createInterface({ input: parent.stdout! }).once("line", resolve));
    const { pid, url } = JSON.parse(line) as { pid: number; url: string };
    expect(processTable().find((p) => p.pid === pid)?.ppid).toBe(parent.pid);
    expect(await probeHealth(url)).toBe(true);
    if (kill) parent.kill("SIGKILL");
    else parent.stdin!.end("exit\n");
    await new Promise((r) => parent.once("exit", r));
    await waitFor(() => !isRunning(pid), 20_000, `child ${pid} to exit after its parent`);
    expect(await probeHealth(url, 1_000)).toBe(false);
  });
});

const docker = (args: readonly string[]) => runCommand("docker", args, { timeoutMs: 120_000 });
/** Containers this file started carry this test process's identity in their owner label, or are named by the test. */
const engine = await docker(["version", "--format", "{{.Server.Version}}"]).then(
  (r) => r.code === 0,
  () => false,
);
const base = process.env.OPENENV_BASE_IMAGE ?? "openenv-base:bookworm";
const baseImage = engine && (await docker(["image", "inspect", base])).code === 0;
const requireDocker = process.env.OPENENV_REQUIRE_DOCKER === "1";

describe("Docker provider without an engine", () => {
  it("names a missing CLI", async () => {
    await expect(checkDocker("/nonexistent/docker")).rejects.toThrow("Docker is not installed: no '/nonexistent/docker' command on PATH");
  });

  it("names a missing engine in one line, and AutoEnv starts nothing", async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = "unix:///nonexistent";
    try {
      const err = await checkDocker().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DockerUnavailableError);
      expect((err as Error).message).toMatch(
        /^the Docker CLI is installed but no Docker engine is running \(.*unix:\/\/\/nonexistent.*\); start the Docker daemon, or use another provider \(provider: "process"\)$/,
      );
      expect((err as Error).message).not.toContain("\n");
      const auto = await AutoEnv.fromEnv("echo", { provider: "docker", client: {} }).catch((e: unknown) => e);
      expect(auto).toBeInstanceOf(DockerUnavailableError);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it.runIf(requireDocker)("this machine is required to have an engine and the base image (OPENENV_REQUIRE_DOCKER=1)", () => {
    expect(engine).toBe(true);
    expect(baseImage).toBe(true);
  });
});

/** Containers whose owner label names `pid` (this file's own children). */
async function containersOf(pid: number): Promise<string[]> {
  const r = await docker(["ps", "-a", "--filter", "label=openenv-connect.owner", "--format", '{{.ID}} {{.Label "openenv-connect.owner"}}']);
  return r.stdout
    .trim()
    .split("\n")
    .filter((l) => l.split(" ")[1]?.startsWith(`${pid}:`))
    .map((l) => l.split(" ")[0] as string);
}

async function exists(id: string): Promise<boolean> {
  return (await docker(["inspect", id])).code === 0;
}

describe.runIf(engine && baseImage)("Docker provider with the real engine", () => {
  // Fixed tags, kept after the run: a rebuild with the same content is a layer-cache hit.
  const tag = "openenv-test-echo:ci";

  it("openenv build echo makes an image offline, on the base image", async () => {
    const started = Date.now();
    const r = await runCli(["build", "echo", "--tag", tag, "--base", base, "--quiet"], { timeoutMs: 600_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${tag}\n`);
    const labels = JSON.parse((await docker(["image", "inspect", "--format", "{{json .Config.Labels}}", tag])).stdout) as Record<
      string,
      string
    >;
    expect(labels["openenv-connect.env"]).toBe("echo");
    console.log(`openenv build echo: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  it("AutoEnv with provider docker: starts the container with limits, waits for health, serves an episode, close() removes it", async () => {
    const progress: string[] = [];
    const started = Date.now();
    const env = await AutoEnv.fromEnv("echo", {
      provider: "docker",
      dockerImage: tag,
      onProgress: (m) => progress.push(m),
      waitTimeoutMs: 120_000,
    });
    const ready = Date.now() - started;
    const id = env.running.containerId as string;
    try {
      expect(env.running.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const first = await env.reset({ seed: 1 });
      expect((first.observation as unknown as { echoedMessage: string }).echoedMessage).toBe("Echo environment ready!");
      const r = await env.step({ message: "in a container" } as never);
      expect((r.observation as unknown as { echoedMessage: string }).echoedMessage).toBe("in a container");
      const hc = JSON.parse((await docker(["inspect", "--format", "{{json .HostConfig}}", id])).stdout) as {
        NetworkMode: string;
        Memory: number;
        NanoCpus: number;
        PidsLimit: number;
        ReadonlyRootfs: boolean;
        SecurityOpt: string[];
      };
      expect(hc.NetworkMode).toBe("host");
      expect(hc.Memory).toBe(2048 * 1024 * 1024);
      expect(hc.NanoCpus).toBe(2e9);
      expect(hc.PidsLimit).toBe(512);
      expect(hc.ReadonlyRootfs).toBe(true);
      expect(hc.SecurityOpt).toContain("no-new-privileges");
      expect(await containersOf(process.pid)).toContain(id.slice(0, 12));
    } finally {
      await env.close();
    }
    expect(await exists(id)).toBe(false);
    expect(await probeHealth(env.running.baseUrl as string, 1_000)).toBe(false);
    console.log(`docker provider: container healthy and connected in ${ready} ms`);
  }, 180_000);

  it("a sandboxed environment (coding) serves from its container, each session in bubblewrap inside it", async () => {
    const built = await runCli(["build", "coding", "--tag", "openenv-test-coding:ci", "--base", base, "--quiet"], { timeoutMs: 600_000 });
    expect(built.code, built.stderr).toBe(0);
    const env = await AutoEnv.fromEnv("coding", { provider: "docker", dockerImage: "openenv-test-coding:ci", waitTimeoutMs: 120_000 });
    try {
      await env.reset();
      const probe =
        "import os, socket\ns = socket.socket()\ntry:\n    s.connect(('127.0.0.1', 22))\n    net = 'reached'\nexcept OSError as e:\n    net = type(e).__name__\nprint(os.getcwd(), os.getuid() != 0, len(os.listdir('/proc')) < 80, net)";
      const r = await env.step({ code: probe } as never);
      expect((r.observation as unknown as { stdout: string }).stdout).toBe("/work True True ConnectionRefusedError\n");
      const scored = await env.step({ code: "def f(x):\n    return 2 * x", tests: [{ name: "t", code: "assert f(2) == 4" }] } as never);
      expect(scored.reward).toBe(1);
    } finally {
      await env.close();
    }
  }, 600_000);

  it("says in one line when the image is missing", async () => {
    const err = await startDocker("openenv-nothing-here:1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DockerImageMissingError);
    expect((err as Error).message).toBe(
      "no image 'openenv-nothing-here:1' in the local Docker engine (nothing is pulled): build it with 'openenv build nothing-here'",
    );
  });

  it.each([
    ["SIGINT", false],
    ["SIGKILL", true],
  ] as const)(
    "removes the container when its client process gets %s",
    async (signal, reaper) => {
      const dir = tempDir("docker-owner", true);
      const script = join(dir, "owner.ts");
      writeFileSync(
        script,
        `import { startDocker } from ${JSON.stringify(join(repoRoot, "src/auto/providers/docker.ts"))};
const running = await startDocker(${JSON.stringify(tag)}, { waitTimeoutMs: 120_000 });
console.log(JSON.stringify({ id: running.containerId, url: running.baseUrl }));
setInterval(() => {}, 1000);
`,
      );
      const owner = spawn(process.execPath, ["--import", "tsx", script], { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: owner.stdout! }).once("line", resolve);
        owner.once("exit", (code) => reject(new Error(`owner exited with ${code}`)));
      });
      const { id, url } = JSON.parse(line) as { id: string; url: string };
      try {
        expect(await probeHealth(url)).toBe(true);
        expect(await containersOf(owner.pid as number)).toContain(id.slice(0, 12));
      } finally {
        owner.kill(signal);
        await new Promise((r) => owner.once("exit", r));
      }
      // SIGINT: the process removes it before exiting; SIGKILL: the reaper it left behind does.
      await waitFor(async () => !(await exists(id)), reaper ? 60_000 : 30_000, `container ${id} removed after ${signal}`);
    },
    180_000,
  );

  it("openenv serve echo --docker serves until Ctrl-C and removes its container", async () => {
    const cli = await startCliServer(["echo", "--docker", "--image", tag]);
    try {
      const [container] = await containersOf(cli.child.pid as number);
      expect(container).toBeDefined();
      await using env = await EnvClient.connect({ baseUrl: cli.url, spec: echoSpec });
      await env.reset();
      expect((await env.step({ message: "via the CLI" })).observation.echoedMessage).toBe("via the CLI");
      expect(await exists(container as string)).toBe(true);
      expect(await cli.stop("SIGINT")).toBe(130);
      expect(await exists(container as string)).toBe(false);
    } finally {
      await cli.stop("SIGKILL");
    }
  }, 180_000);

  it("openenv build PATH uses the Dockerfile that openenv init wrote, and the image serves an episode", async () => {
    const dir = tempDir("docker-init", true);
    const pkg = join(dir, "pkg");
    const packed = await runCommand("npm", ["pack", "--silent", "--pack-destination", dir, repoRoot], { timeoutMs: 300_000 });
    expect(packed.code).toBe(0);
    const tarball = packed.stdout.trim().split("\n").pop() as string;
    const init = await runCli(["init", "dock_game", "--dir", pkg, "--openenv-connect", `file:vendor/${tarball}`]);
    expect(init.code, init.stderr).toBe(0);
    mkdirSync(join(pkg, "vendor"));
    renameSync(join(dir, tarball), join(pkg, "vendor", tarball));
    // npm in the container trusts what npm here trusts (a machine may reach the registry through a TLS-inspecting proxy).
    const ca = process.env.NODE_EXTRA_CA_CERTS;
    if (ca !== undefined && existsSync(ca)) {
      copyFileSync(ca, join(pkg, "vendor", "ca.crt"));
      writeFileSync(join(pkg, ".npmrc"), "cafile=vendor/ca.crt\n");
    }
    const imageTag = "openenv-test-dock-game:ci";
    const started = Date.now();
    const r = await runCli(["build", pkg, "--tag", imageTag, "--base", base, "--quiet"], { timeoutMs: 900_000 });
    expect(r.code, r.stderr).toBe(0);
    console.log(
      `openenv build of an openenv init package (its Dockerfile, npm install inside): ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const running = await startDocker(imageTag, { waitTimeoutMs: 120_000 });
    try {
      await using env = await EnvClient.connect({ baseUrl: running.baseUrl });
      await env.reset();
      const step = await env.step({ message: "hello" } as never);
      expect(step.observation).toBeDefined();
    } finally {
      await running.stop();
    }
  }, 900_000);
});

describe("URL provider", () => {
  it("connects only: closing the client leaves the server running", async () => {
    const server = await startInProcess(EchoEnvironment);
    try {
      const env = await AutoEnv.fromEnv(server.baseUrl!);
      expect(env.running.provider).toBe("url");
      await env.reset();
      expect((await env.step({ message: "u" } as never)).reward).toBeCloseTo(0.1);
      await env.close();
      expect(await probeHealth(server.baseUrl!)).toBe(true);
    } finally {
      await server.stop();
    }
  });
});
