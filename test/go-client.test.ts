import { execFile, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { MazeEnvironment } from "../src/envs/maze/environment.js";
import { type GatewayServer, serveGateway } from "../src/gateway/index.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { startTcpProxy, type TcpProxy } from "./fixtures/tcp-proxy.js";
import { type Standin, skipStandin, startStandin } from "./gateway/standin.js";

// examples/go/rollout, built offline in GOPATH mode with Debian's Go packages, runs typed echo and maze
// episodes against our servers and against the gateway in front of a Python OpenEnv server.
const exec = promisify(execFile);
const repo = join(import.meta.dirname, "..");
const goAvailable = spawnSync("go", ["version"]).status === 0;
// CI installs Go and the stand-in's python3-websockets (.ci/run); elsewhere their absence skips.
const skip = (!goAvailable || skipStandin) && process.env.CI === undefined;

/** GOPATH mode, offline: clients/go holds our packages, /usr/share/gocode Debian's. */
export const goEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  GOPATH: `${join(repo, "clients", "go")}:/usr/share/gocode`,
  GO111MODULE: "off",
  GOPROXY: "off",
  GOFLAGS: "",
});

let dir: string;
let binary: string;
let echo: EnvironmentServer;
let maze: EnvironmentServer;
let standin: Standin;
let upstreamEcho: GatewayServer;
let upstreamMaze: GatewayServer;

beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "i17-go-"));
  binary = join(dir, "rollout");
  const build = exec("go", ["build", "-o", binary, "./examples/go/rollout"], { cwd: repo, env: goEnv(), timeout: 300_000 });
  [echo, maze, standin] = await Promise.all([serve(EchoEnvironment, { port: 0 }), serve(MazeEnvironment, { port: 0 }), startStandin()]);
  [upstreamEcho, upstreamMaze] = await Promise.all([
    serveGateway(`${standin.url}/envs/echo`, { port: 0 }),
    serveGateway(`${standin.url}/envs/maze`, { port: 0 }),
  ]);
  await build;
}, 360_000);
afterAll(async () => {
  await Promise.all([echo?.close(), maze?.close(), upstreamEcho?.close(), upstreamMaze?.close()]);
  await standin?.kill();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const hostPort = (url: string): string => url.replace(/^http:\/\//, "");

async function rollout(server: { url: string }, ...args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await exec(binary, ["-addr", hostPort(server.url), ...args], { timeout: 120_000 });
  return stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe.skipIf(skip)("examples/go/rollout (Go client, grpc-go from Debian)", () => {
  it("runs typed echo episodes against openenv serve", async () => {
    const lines = await rollout(echo, "-env", "echo");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ env: "echo", target: "serve", steps: 5, episode_id: "go-echo-1" });
    expect(lines[0]?.session).toBe(lines[1]?.session); // both episodes on one stream and session
  });

  it("runs maze episodes to their end, after a typed INVALID_ARGUMENT", async () => {
    const lines = await rollout(maze, "-env", "maze");
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.terminated === true || l.truncated === true).toBe(true);
  });

  it("runs echo and maze episodes against the gateway in front of OpenEnv's Python echo_env and maze_env", async () => {
    const e = await rollout(upstreamEcho, "-env", "echo", "-upstream");
    expect(e).toEqual([
      expect.objectContaining({ target: "gateway", upstream_env: "EchoEnvironment", episode: 1, steps: 5 }),
      expect.objectContaining({ episode: 2 }),
    ]);
    const m = await rollout(upstreamMaze, "-env", "maze", "-upstream");
    expect(m).toHaveLength(2);
    expect(m[0]).toMatchObject({ env: "maze", target: "gateway", upstream_env: "maze_env" });
  });

  it("refuses a server that serves another environment", async () => {
    const err = await exec(binary, ["-addr", hostPort(maze.url), "-env", "echo"], { timeout: 60_000 }).catch(
      (e: unknown) => e as { stderr: string },
    );
    expect(err.stderr).toContain("FailedPrecondition: the server serves maze");
  });

  it("resumes its session when connections drop, and every step is applied exactly once", async () => {
    // Every connection is cut after ~40 steps' worth of requests, however fast the machine is.
    const proxy: TcpProxy = await startTcpProxy(echo.port, { cutAfterClientBytes: 4096 });
    try {
      const [line] = await rollout(proxy, "-bench", "400");
      expect(line).toMatchObject({ client: "go", steps: 400 });
      expect(line?.server_step_count).toBe((line?.steps as number) + (line?.warmup as number));
      expect(line?.reconnects as number).toBeGreaterThan(0);
    } finally {
      await proxy.close();
    }
  }, 180_000);
});
