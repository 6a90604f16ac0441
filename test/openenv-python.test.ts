import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { waitFor } from "./fixtures/raw-ws.js";

/**
 * The compatibility suite from a second language: a Python program using only
 * the standard library and Debian's python3-websockets (OpenEnv's own client
 * library) drives /ws and the HTTP routes of a real server.
 */

// Debian's interpreter: the pyenv python3 on PATH does not see Debian's dist-packages.
const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("./compat/openenv_protocol.py", import.meta.url));
const available = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0;
const MAX_SESSIONS = 3;

let server: EnvironmentServer;

beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0, maxSessions: MAX_SESSIONS });
});
afterAll(async () => {
  await server.close();
});

describe("OpenEnv protocol from Python", () => {
  // CI installs python3-websockets (.ci/run); elsewhere a missing package skips instead of failing.
  it.skipIf(!available && process.env.CI === undefined)(
    "a Python OpenEnv client runs unchanged against the server",
    async () => {
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(PYTHON, [SCRIPT, server.url, String(MAX_SESSIONS)], { stdio: ["ignore", "pipe", "pipe"] });
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
      await waitFor(() => server.router.sessions.active === 0);
    },
    120_000,
  );
});
