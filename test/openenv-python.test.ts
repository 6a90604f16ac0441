import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The compatibility suite from a second language: a Python program using only
 * the standard library and Debian's python3-websockets (OpenEnv's own client
 * library) drives /ws and the HTTP routes of `openenv serve echo`, the CLI a
 * user runs.
 */

// Debian's interpreter: the pyenv python3 on PATH does not see Debian's dist-packages.
const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./compat/openenv_protocol.py", import.meta.url));
const CLI = fileURLToPath(new URL("../bin/openenv.js", import.meta.url));
const available = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0;
const MAX_SESSIONS = 3;

let cli: ChildProcess;
let url: string;

beforeAll(async () => {
  cli = spawn(process.execPath, [CLI, "serve", "echo", "--port", "0", "--max-sessions", String(MAX_SESSIONS)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    cli.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /serving echo on (http:\/\/[^ ]+)/.exec(out);
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

describe("OpenEnv protocol from Python, against `openenv serve echo`", () => {
  // CI installs python3-websockets (.ci/run); elsewhere a missing package skips instead of failing.
  it.skipIf(!available && process.env.CI === undefined)(
    "a Python OpenEnv client runs unchanged",
    async () => {
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(PYTHON, [SCRIPT, url, String(MAX_SESSIONS)], { stdio: ["ignore", "pipe", "pipe"] });
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
      const rate = /ws steps\/s from Python \(sequential\): (\d+)/.exec(stdout)?.[1];
      if (rate !== undefined) console.log(`Python client over /ws: ${rate} steps/s (sequential, informational)`);
      expect(stderr).toBe("");
      expect(stdout).not.toContain("FAIL");
      expect(stdout.trim().split("\n").at(-1)).toBe("ALL OK");
      expect(code).toBe(0);
    },
    120_000,
  );
});
