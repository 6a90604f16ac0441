import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The compatibility suite from a second language: a Python program using only
 * the standard library and Debian's python3-websockets (OpenEnv's own client
 * library) drives /ws and the HTTP routes of `openenv serve echo`, and, as
 * OpenEnv's `EchoEnv` (an `MCPToolClient`, both modes) and `GenericEnvClient`,
 * `openenv serve mcp-echo`: the CLI a user runs.
 */

// Debian's interpreter: the pyenv python3 on PATH does not see Debian's dist-packages.
const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./compat/openenv_protocol.py", import.meta.url));
const CLI = fileURLToPath(new URL("../bin/openenv.js", import.meta.url));
const available = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0;
const MAX_SESSIONS = 3;

/** `openenv serve NAME` in a child process, until the suite ends. */
function servedByCli(name: string): { url: () => string } {
  let cli: ChildProcess;
  let url = "";
  beforeAll(async () => {
    cli = spawn(process.execPath, [CLI, "serve", name, "--port", "0", "--max-sessions", String(MAX_SESSIONS)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    url = await new Promise<string>((resolve, reject) => {
      let out = "";
      cli.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /serving \S+ on (http:\/\/[^ ]+)/.exec(out);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      cli.once("exit", (code) => reject(new Error(`openenv serve exited with ${code}: ${out}`)));
    });
  }, 60_000);
  afterAll(async () => {
    if (cli.exitCode === null) {
      const exited = new Promise((resolve) => cli.once("exit", resolve));
      cli.kill("SIGTERM");
      await exited;
    }
  });
  return { url: () => url };
}

/** Runs the Python suite and checks it passed every check. */
async function runSuite(url: string, suite: string): Promise<string> {
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(PYTHON, [SCRIPT, url, String(MAX_SESSIONS), suite], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("close", (c) => resolve({ code: c, stdout, stderr }));
  });
  expect(stderr).toBe("");
  expect(stdout).not.toContain("FAIL");
  expect(stdout.trim().split("\n").at(-1)).toBe("ALL OK");
  expect(code).toBe(0);
  return stdout;
}

// CI installs python3-websockets (.ci/run); elsewhere a missing package skips instead of failing.
const runsPython = !available && process.env.CI === undefined ? it.skip : it;

describe("OpenEnv protocol from Python, against `openenv serve echo`", () => {
  const server = servedByCli("echo");
  runsPython(
    "a Python OpenEnv client runs unchanged",
    async () => {
      const stdout = await runSuite(server.url(), "echo");
      const rate = /ws steps\/s from Python \(sequential\): (\d+)/.exec(stdout)?.[1];
      if (rate !== undefined) console.log(`Python client over /ws: ${rate} steps/s (sequential, informational)`);
    },
    120_000,
  );
});

describe("OpenEnv's MCPToolClient protocol from Python, against `openenv serve mcp-echo`", () => {
  const server = servedByCli("mcp-echo");
  runsPython(
    "EchoEnv (MCPToolClient) over /ws and over POST /mcp (production), and GenericEnvClient, run unchanged",
    async () => {
      const stdout = await runSuite(server.url(), "mcp-echo");
      expect(stdout).toContain("ok   call_tool echo_message -> 'Hello!'");
      expect(stdout).toContain("ok   production call_tool echo_message");
      const rate = /mcp tool-call steps\/s from Python over \/ws \(sequential\): (\d+)/.exec(stdout)?.[1];
      if (rate !== undefined) console.log(`Python MCPToolClient over /ws: ${rate} tool-call steps/s (sequential, informational)`);
    },
    120_000,
  );
});
