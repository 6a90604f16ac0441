import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const tsx = ["--import", "tsx"];

describe("examples/ run as documented", () => {
  it("quickstart.ts prints the reversed words", async () => {
    const { stdout } = await run(process.execPath, [...tsx, "examples/quickstart.ts"], { timeout: 60_000 });
    expect(stdout.trim().split("\n")).toEqual(["desserts 1 false", "level true"]);
  });

  it("autoenv.ts follows OpenEnv's AutoEnv guide: list, fromEnv('coding'), a step, the typo message", async () => {
    const { stdout } = await run(process.execPath, [...tsx, "examples/autoenv.ts"], { timeout: 90_000 });
    expect(stdout).toContain("Available Environments:");
    expect(stdout).toMatch(/^coding +: /m);
    expect(stdout).toContain('"Hello, OpenEnv!\\n"');
    expect(stdout).toContain(
      "Unknown environment 'cooding'.\nDid you mean: coding?\nAvailable environments: browser, chat, coding, connect4, echo, maze, mcp_echo, wordle, workspace",
    );
  });

  it("mcp-tools.ts declares a tool, calls it typed and with the MCP SDK's client", async () => {
    const { stdout } = await run(process.execPath, [...tsx, "examples/mcp-tools.ts"], { timeout: 60_000 });
    expect(stdout.trim().split("\n")).toEqual(["5 1", "[ 'add' ]", "{ result: 42 }"]);
  });

  it("demo.ts serves echo with the CLI and runs a rollout against it", async () => {
    const { stdout } = await run(process.execPath, [...tsx, "examples/demo.ts"], { timeout: 60_000 });
    expect(stdout).toMatch(/^server: openenv: serving echo on http:\/\/127\.0\.0\.1:\d+/);
    expect(stdout).toContain('step 1 -> echoed "Hello, OpenEnv!" length 15 reward 1.5');
    expect(stdout).toMatch(/state {2}-> episode [0-9a-f-]{36}, 3 steps, 41 characters; return 4\.1/);
    expect(stdout).toMatch(/rollout: 2000 sequential steps over one bidi stream in [\d.]+ s = \d+ steps\/s/);
  });
});
