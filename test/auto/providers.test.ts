import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { AutoEnv } from "../../src/auto/auto-env.js";
import { checkDocker, DockerUnavailableError, startDocker } from "../../src/auto/providers/docker.js";
import { probeHealth } from "../../src/auto/providers/health.js";
import { startInMemory, startInProcess } from "../../src/auto/providers/in-process.js";
import { startProcess } from "../../src/auto/providers/process.js";
import type { RunningEnvironment } from "../../src/auto/providers/types.js";
import { EnvClient } from "../../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../../src/envs/echo/environment.js";
import { cleanupTemp, isRunning, processTable, repoRoot, runCommand, tempDir, waitFor } from "./helpers.js";

afterAll(cleanupTemp);

const fakeDocker = join(import.meta.dirname, "fixtures", "fake-docker.mjs");

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

describe("Docker provider", () => {
  it("on this machine: says clearly which part of Docker is missing", async () => {
    const which = await runCommand("sh", ["-c", "command -v docker"]);
    const err = await checkDocker().catch((e: unknown) => e);
    if (which.code !== 0) {
      expect(err).toBeInstanceOf(DockerUnavailableError);
      expect((err as Error).message).toBe("Docker is not installed: no 'docker' command on PATH");
      return;
    }
    const engine = await runCommand("docker", ["version", "--format", "{{.Server.Version}}"]);
    if (engine.code === 0) {
      expect(err).toBe(engine.stdout.trim()); // an engine runs here: checkDocker reports its version
      return;
    }
    expect(err).toBeInstanceOf(DockerUnavailableError);
    expect((err as Error).message).toMatch(/^the Docker CLI is installed but no Docker engine is running \(.+\); start the Docker daemon/);
  });

  it("AutoEnv with provider docker and no engine (a missing socket) fails with that error, starting nothing", async () => {
    // Whatever this machine has: with an engine running here, DOCKER_HOST points the CLI at none.
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = "unix:///nonexistent/docker.sock";
    try {
      const which = await runCommand("sh", ["-c", "command -v docker"]);
      const err = await AutoEnv.fromEnv("echo", { provider: "docker", client: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DockerUnavailableError);
      if (which.code === 0) expect((err as Error).message).toMatch(/no Docker engine is running \(.*unix:\/\/\/nonexistent\/docker\.sock/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it("names a missing CLI and a missing engine", async () => {
    await expect(checkDocker("/nonexistent/docker")).rejects.toThrow("Docker is not installed: no '/nonexistent/docker' command on PATH");
    const state = tempDir("fake-docker");
    process.env.FAKE_DOCKER_STATE = state;
    process.env.FAKE_DOCKER_NO_ENGINE = "1";
    try {
      await expect(checkDocker(fakeDocker)).rejects.toThrow(
        "the Docker CLI is installed but no Docker engine is running (Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?)",
      );
    } finally {
      delete process.env.FAKE_DOCKER_NO_ENGINE;
    }
  });

  it("runs the image with a port mapping, waits for health, serves a rollout and stops the container (fake docker CLI)", async () => {
    const state = tempDir("fake-docker");
    process.env.FAKE_DOCKER_STATE = state;
    const running = await startDocker("openenv-echo:latest", { command: fakeDocker, envVars: { GREETING: "hi" }, waitTimeoutMs: 60_000 });
    expect(running.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const calls = readFileSync(join(state, "calls.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as string[]);
    expect(calls[0]).toEqual(["version", "--format", "{{.Server.Version}}"]);
    expect(calls[1]).toEqual([
      "run",
      "-d",
      "--rm",
      "--name",
      expect.stringMatching(/^openenv-echo-[0-9a-f]{6}$/),
      "-p",
      "127.0.0.1::8000",
      "-e",
      "GREETING=hi",
      "openenv-echo:latest",
    ]);
    expect(calls[2]).toEqual(["port", running.containerId, "8000/tcp"]);
    const container = JSON.parse(readFileSync(join(state, `${running.containerId}.json`), "utf8")) as { pid: number };
    expect(isRunning(container.pid)).toBe(true);
    await rollout(running);
    await running.stop();
    expect(calls.length).toBe(3);
    expect(readFileSync(join(state, "calls.jsonl"), "utf8").trim().split("\n").at(-1)).toBe(
      JSON.stringify(["stop", "--time", "5", running.containerId]),
    );
    await waitFor(() => !isRunning(container.pid), 20_000, "the container's server to stop");
  });

  it("reports a failed docker run (unknown image)", async () => {
    const state = tempDir("fake-docker");
    process.env.FAKE_DOCKER_STATE = state;
    const err = await startDocker("someone/unknown:1", { command: fakeDocker }).catch((e: unknown) => e);
    expect((err as Error).message).toBe("docker run someone/unknown:1 failed: Unable to find image 'someone/unknown:1' locally");
  });
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
