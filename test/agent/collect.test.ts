import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workspacePolicy } from "../fixtures/agent-policies.js";
import { FakeLlmServer } from "../fixtures/fake-llm.js";

const CLI = fileURLToPath(new URL("../../bin/openenv.js", import.meta.url));
const dirs: string[] = [];
let llm: FakeLlmServer;

beforeAll(async () => {
  llm = await new FakeLlmServer(workspacePolicy).start();
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "openenv-collect-test-"));
  dirs.push(d);
  return d;
}

function collectCli(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, "collect", "workspace", "--model", "fake", "--llm-endpoint", llm.baseUrl, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d));
  child.stderr?.on("data", (d: Buffer) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, done };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks one results.jsonl line: an episode record whose messages are a valid tool-calling chat in TRL's format. */
function validateRecord(line: string): Record<string, unknown> {
  const r = JSON.parse(line) as Record<string, unknown>;
  expect(Object.keys(r).sort()).toEqual([
    "done",
    "episode_id",
    "messages",
    "metrics",
    "reward",
    "task",
    "terminated",
    "tool_trace",
    "tools",
    "truncated",
  ]);
  expect(r.episode_id).toMatch(/^ep-\d{6}$/);
  expect(Number.isFinite(r.reward)).toBe(true);
  for (const k of ["done", "terminated", "truncated"]) expect(typeof r[k]).toBe("boolean");
  const tools = r.tools as Record<string, unknown>[];
  const names = tools.map((t) => {
    expect(t.type).toBe("function");
    const f = t.function as Record<string, unknown>;
    expect(typeof f.name === "string" && typeof f.description === "string" && isObject(f.parameters)).toBe(true);
    return f.name as string;
  });
  expect(names).toEqual(["read_file", "write_file", "list_dir", "run_python", "submit"]);
  const messages = r.messages as Record<string, unknown>[];
  expect(messages.slice(0, 2).map((m) => m.role)).toEqual(["system", "user"]);
  const pending = new Map<string, string>();
  let toolMessages = 0;
  for (const m of messages) {
    expect(["system", "user", "assistant", "tool"]).toContain(m.role);
    expect(typeof m.content).toBe("string");
    if (m.role === "assistant") {
      for (const c of (m.tool_calls ?? []) as Record<string, unknown>[]) {
        const f = c.function as Record<string, unknown>;
        expect(c.type).toBe("function");
        expect(names).toContain(f.name);
        expect(isObject(f.arguments)).toBe(true);
        pending.set(c.id as string, f.name as string);
      }
    } else if (m.role === "tool") {
      toolMessages++;
      expect(pending.get(m.tool_call_id as string)).toBe(m.name);
      pending.delete(m.tool_call_id as string);
    } else {
      expect(m.tool_calls).toBeUndefined();
    }
  }
  expect(pending.size).toBe(0);
  const trace = r.tool_trace as Record<string, unknown>[];
  expect(trace.length).toBe(toolMessages);
  const metrics = r.metrics as Record<string, unknown>;
  for (const k of [
    "turns",
    "tool_calls",
    "tool_errors",
    "steps",
    "prompt_tokens",
    "completion_tokens",
    "llm_ms",
    "env_ms",
    "duration_ms",
  ]) {
    expect(Number.isInteger(metrics[k]), k).toBe(true);
  }
  expect(metrics.tool_calls).toBe(trace.length);
  expect(isObject(r.task)).toBe(true);
  return r;
}

function lines(dir: string): string[] {
  return readFileSync(join(dir, "results.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l !== "");
}

describe("openenv collect", () => {
  it("collects 24 workspace episodes in 4 parallel sessions into a valid results.jsonl", async () => {
    const out = tempDir();
    const { done } = collectCli(["-o", out, "-n", "24", "--concurrency", "4", "--seed", "100", "--max-turns", "6"]);
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^collected=24 skipped=0 dropped=0 failed=0 avg_reward=0\.\d{3} success_rate=100% results=.*results\.jsonl\n$/,
    );
    expect(r.stderr).toMatch(/\] 24\/24 collected=24 failed=0/);
    const records = lines(out).map(validateRecord);
    expect(records.map((x) => x.episode_id).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `ep-${String(i).padStart(6, "0")}`));
    for (const rec of records) {
      const task = (rec.task as { task: string }).task;
      expect(rec.done && rec.terminated).toBe(true);
      // The scripted model solves every task but word_count (0.9 × 2/3 of its tests); 4 steps of 30 used.
      expect(rec.reward).toBeCloseTo(task === "word_count" ? 0.6 : 0.9 + 0.1 * (1 - 4 / 30), 9);
    }
    expect(new Set(records.map((x) => (x.task as { task: string }).task)).size).toBeGreaterThan(1);
    const meta = JSON.parse(readFileSync(join(out, "metadata.json"), "utf8")) as Record<string, unknown>;
    expect(meta).toMatchObject({ env: "workspace", model: "fake", episodes_requested: 24, concurrency: 4, seed: 100 });
  }, 300_000);

  it("resumes after an interruption by episode id: nothing twice, nothing lost, a torn last line dropped", async () => {
    const out = tempDir();
    // The model stops answering once 3 episodes are written; the run is then interrupted with SIGINT.
    llm.answer = (req) => (existsSync(join(out, "results.jsonl")) && lines(out).length >= 3 ? "hang" : workspacePolicy(req));
    const first = collectCli(["-o", out, "-n", "10", "--concurrency", "2"]);
    const deadline = Date.now() + 120_000;
    while (!(existsSync(join(out, "results.jsonl")) && lines(out).length >= 3)) {
      if (Date.now() > deadline) throw new Error("three episodes were not collected in time");
      await new Promise((res) => setTimeout(res, 100));
    }
    first.child.kill("SIGINT");
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    const kept = lines(out);
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.length).toBeLessThan(10);
    appendFileSync(join(out, "results.jsonl"), '{"episode_id":"ep-000009","messages":[{"ro'); // a write cut short
    llm.answer = workspacePolicy;
    const second = await collectCli(["-o", out, "-n", "10", "--concurrency", "2"]).done;
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`collected=${10 - kept.length} skipped=${kept.length} `);
    const all = lines(out).map(validateRecord);
    expect(all.map((x) => x.episode_id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `ep-${String(i).padStart(6, "0")}`));
    expect(lines(out).slice(0, kept.length)).toEqual(kept);
  }, 300_000);
});
