import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ToolProgress } from "../../gen/openenv/v1/tools_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { workspaceTools as tools, WorkspaceEnvironment, workspaceSpec } from "../../src/envs/workspace/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/index.js";

const FIZZBUZZ = `def fizzbuzz(n):
    out = []
    for i in range(1, n + 1):
        out.append("FizzBuzz" if i % 15 == 0 else "Fizz" if i % 3 == 0 else "Buzz" if i % 5 == 0 else str(i))
    return out
`;

let server: EnvironmentServer;
let env: EnvClient<
  typeof workspaceSpec.action,
  typeof workspaceSpec.observation,
  typeof workspaceSpec.state,
  NonNullable<typeof workspaceSpec.partial>
>;

beforeAll(async () => {
  server = await serve(WorkspaceEnvironment, { port: 0 });
  env = await EnvClient.connect({ baseUrl: server.url, spec: workspaceSpec });
}, 60_000);
afterAll(async () => {
  await env?.close();
  await server?.close();
});

describe("workspace: a programming task solved through tools in the coding sandbox", () => {
  it("poses the task, lets the agent work, and grades the submission with the rubric", async () => {
    const first = await env.reset({ options: { task: "fizzbuzz" } });
    expect(first.metadata?.task).toBe("fizzbuzz");
    expect(String(first.metadata?.instruction)).toContain("fizzbuzz(n)");
    expect(first.metadata?.tools).toEqual(["read_file", "write_file", "list_dir", "run_python", "submit"]);

    const listing = await env.callTool(tools.listDir, {});
    expect(listing.output?.entries.map((e) => [e.name, e.type])).toEqual([["README.md", "file"]]);
    const readme = await env.callTool(tools.readFile, { path: "README.md" });
    expect(readme.output?.content).toContain("# fizzbuzz");

    const wrote = await env.callTool("write_file", { path: "fizzbuzz.py", content: FIZZBUZZ });
    expect(wrote.error).toBeUndefined();
    expect(wrote.structuredContent).toEqual({ path: "fizzbuzz.py", bytes_written: FIZZBUZZ.length });

    const chunks: string[] = [];
    const run = await env.callTool(
      tools.runPython,
      { code: "from fizzbuzz import fizzbuzz\nprint(fizzbuzz(5))\nlen(fizzbuzz(15))" },
      { onPartial: (p) => chunks.push((p as ToolProgress).message) },
    );
    expect(run.output?.stdout).toBe("['1', '2', 'Fizz', '4', 'Buzz']\n");
    expect(run.output?.result).toBe("15");
    expect(chunks.join("")).toBe(run.output?.stdout);

    const verdict = await env.callTool(tools.submit, {});
    expect(verdict.output).toMatchObject({ passed: 3, total: 3 });
    expect(verdict.step.terminated).toBe(true);
    // 0.9 for the tests + 0.1 × (1 − 5/30) for the steps left.
    expect(verdict.step.reward).toBeCloseTo(0.9 + 0.1 * (1 - 5 / 30), 9);
    expect(verdict.step.rewardComponents).toEqual({ tests: 1, efficiency: 1 - 5 / 30 });
    const state = await env.state();
    expect(state).toMatchObject({ task: "fizzbuzz", pythonRuns: 1, filesWritten: 1, submitted: true, stepCount: 5 });
  });

  it("keeps file tools inside the workspace, even through a planted symbolic link", async () => {
    await env.reset({ options: { task: "fix_stats" } });
    const outside = await env.callTool("read_file", { path: "../../etc/hostname" });
    expect(outside.isError).toBe(true);
    expect(outside.text).toMatch(/^PermissionError: .* is outside the workspace/);
    await env.callTool("run_python", { code: "import os\nos.symlink('/etc/passwd', 'link')" });
    const viaLink = await env.callTool("read_file", { path: "link" });
    expect(viaLink.isError).toBe(true);
    expect(viaLink.text).toContain("outside the workspace");
    const listed = await env.callTool(tools.listDir, { path: "." });
    expect(listed.output?.entries.find((e) => e.name === "link")?.type).toBe("link");
    expect((await env.callTool("read_file", { path: "nope.txt" })).text).toMatch(/^FileNotFoundError/);
  });

  it("truncates an episode at its step limit and grades it as it stands", async () => {
    await env.reset({ options: { task: "fix_stats", max_steps: 2 } });
    const one = await env.callTool("read_file", { path: "stats.py" });
    expect(one.step.done).toBe(false);
    const two = await env.callTool("list_dir", {});
    expect(two.step.truncated).toBe(true);
    // The bugs are still there: only median_odd passes (the buggy median is right for odd lengths), 0.9 × 1/3.
    expect(two.step.reward).toBeCloseTo(0.3, 9);
    expect(two.step.metadata).toMatchObject({ truncated_at: 2, tests_passed: 1 });
  });

  it("picks the task from the seed, the same one each time", async () => {
    const a = await env.reset({ seed: 7 });
    const b = await env.reset({ seed: 7 });
    expect(a.metadata?.task).toBe(b.metadata?.task);
  });
});
