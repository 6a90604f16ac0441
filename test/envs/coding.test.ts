import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutionStatus, OutputStream } from "../../gen/openenv/envs/coding/v1/coding_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { CodingEnvironment, type CodingOptions, codingSpec } from "../../src/envs/coding/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { processTable, sandboxProcesses } from "../fixtures/process-table.js";
import { expectConnectError, waitFor } from "./helpers.js";

const isRoot = process.getuid?.() === 0;
const servers: EnvironmentServer[] = [];
let server: EnvironmentServer;

async function start(options: CodingOptions = {}): Promise<EnvironmentServer> {
  const s = await serve(CodingEnvironment.with(options), { port: 0 });
  servers.push(s);
  return s;
}

beforeAll(async () => {
  server = await start();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

const connect = (s = server) => EnvClient.connect({ baseUrl: s.url, spec: codingSpec, stepTimeoutMs: 60_000 });

/** Waits until no process of the sandbox (its process group, or its uid) is left. */
async function expectNoSandboxProcesses(pgid: number, uid: number | undefined): Promise<void> {
  await waitFor(() => sandboxProcesses(pgid, uid).length === 0, 15_000, `sandbox processes gone (pgid ${pgid}, uid ${uid})`);
}

/** Processes of a sandbox's own uid (as root every session has one, so they are the session's alone). */
const ofUid = (uid: number) => processTable().filter((p) => p.uid === uid);

describe("coding environment over a real server", () => {
  it("runs the OpenEnv quickstart: print('Hello, OpenEnv!') with schemas learned from Describe", async () => {
    await using env = await EnvClient.connect({ baseUrl: server.url });
    expect(env.info?.partialType).toBe("openenv.envs.coding.v1.CodeOutputChunk");
    await env.reset();
    const r = await env.step({ code: "print('Hello, OpenEnv!')" } as never);
    const obs = r.observation as unknown as { stdout: string; stderr: string; exitCode: number };
    expect(obs.stdout).toBe("Hello, OpenEnv!\n");
    expect(obs.stderr).toBe("");
    expect(obs.exitCode).toBe(0);
    expect(r.reward).toBe(1);
    expect(r.rewardComponents).toEqual({ executed: 1 });
  });

  it("keeps variables, functions and imports between steps, and returns a trailing expression's repr", async () => {
    await using env = await connect();
    await env.reset();
    await env.step({ code: "import math\ndef area(r):\n    return math.pi * r * r\ncount = 41" });
    const r = await env.step({ code: "count += 1\nround(area(1), 4), count" });
    expect(r.observation.result).toBe("(3.1416, 42)");
    expect(r.observation.stdout).toBe("");
    expect(r.observation.executionCount).toBe(2);
    const state = await env.state();
    expect(state.variables).toEqual(["area", "count", "math"]);
    expect(state.executionCount).toBe(2);
    expect(state.pythonVersion).toMatch(/^3\.\d+\.\d+$/);
    // reset starts a fresh interpreter in a fresh (sandbox and) directory
    await env.step({ code: "open('left-behind', 'w').write('x')" });
    await env.reset();
    const after = await env.step({ code: "import os\nprint('count' in globals(), os.path.exists('left-behind'))" });
    expect(after.observation.stdout).toBe("False False\n");
  });

  it("streams output chunks before the final result, while the code still runs", async () => {
    // Unsandboxed, so that the test can reach the code's directory: the streaming is the same.
    await using env = await connect(await start({ sandbox: "none" }));
    const first = await env.reset();
    const workdir = String(first.metadata.working_directory);
    const chunks: { stream: OutputStream; text: string; resolved: boolean }[] = [];
    let resolved = false;
    // The code waits for a file the test creates only after receiving the first chunk:
    // the step can only finish if that chunk was streamed while the code was running.
    const code = [
      "import os, sys, time",
      "print('first', flush=True)",
      "print('warning', file=sys.stderr, flush=True)",
      "while not os.path.exists('go'):",
      "    time.sleep(0.01)",
      "print('second')",
    ].join("\n");
    const step = env.step(
      { code, timeoutS: 30 },
      {
        onPartial: (p) => {
          chunks.push({ stream: p.stream, text: p.text, resolved });
          expect(p.executionCount).toBe(1);
          if (p.text.includes("first")) fs.writeFileSync(path.join(workdir, "go"), "");
        },
      },
    );
    const r = await step.finally(() => {
      resolved = true;
    });
    expect(r.observation.status).toBe(ExecutionStatus.OK);
    expect(r.observation.stdout).toBe("first\nsecond\n");
    expect(r.observation.stderr).toBe("warning\n");
    expect(chunks.every((c) => !c.resolved)).toBe(true);
    const joined = (s: OutputStream) =>
      chunks
        .filter((c) => c.stream === s)
        .map((c) => c.text)
        .join("");
    expect(joined(OutputStream.STDOUT)).toBe(r.observation.stdout);
    expect(joined(OutputStream.STDERR)).toBe(r.observation.stderr);
  });

  it("captures output of subprocesses in order", async () => {
    await using env = await connect();
    await env.reset();
    const r = await env.step({ code: "import subprocess\nprint('a', flush=True)\nsubprocess.run(['echo', 'b'])\nprint('c')" });
    expect(r.observation.stdout).toBe("a\nb\nc\n");
  });

  it("reports exceptions, syntax errors and sys.exit, and stays usable", async () => {
    await using env = await connect();
    await env.reset();
    await env.step({ code: "x = 1" });
    const err = await env.step({ code: "def f():\n    return 1 / 0\nf()" });
    expect(err.observation.status).toBe(ExecutionStatus.ERROR);
    expect(err.observation.exitCode).toBe(1);
    expect(err.observation.errorName).toBe("ZeroDivisionError");
    expect(err.observation.errorMessage).toBe("division by zero");
    expect(err.observation.stderr).toMatch(/^Traceback \(most recent call last\):\n {2}File "<cell-2>", line 3, in <module>/);
    expect(err.observation.stderr).toContain('File "<cell-2>", line 2, in f');
    expect(err.observation.stderr).not.toMatch(/openenv-coding-driver|<string>/); // no driver frames
    expect(err.reward).toBe(0);
    expect(err.rewardComponents).toEqual({ executed: 0 });
    const syntax = await env.step({ code: "def (" });
    expect(syntax.observation.errorName).toBe("SyntaxError");
    expect(syntax.observation.stderr).toContain('File "<cell-3>", line 1');
    const exit = await env.step({ code: "import sys; sys.exit(3)" });
    expect(exit.observation.exitCode).toBe(3);
    expect(exit.observation.status).toBe(ExecutionStatus.ERROR);
    const exit0 = await env.step({ code: "import sys; sys.exit()" });
    expect(exit0.observation.status).toBe(ExecutionStatus.OK);
    const fine = await env.step({ code: "print(x)" });
    expect(fine.observation.stdout).toBe("1\n");
    expect(fine.observation.interpreterRestarted).toBe(false);
  });

  it("stops an infinite loop at the action's timeout and keeps the session and its variables", async () => {
    await using env = await connect();
    await env.reset();
    await env.step({ code: "kept = 'yes'" });
    const r = await env.step({ code: "while True:\n    pass", timeoutS: 0.5 });
    expect(r.observation.status).toBe(ExecutionStatus.TIMEOUT);
    expect(r.observation.exitCode).toBe(124);
    expect(r.observation.errorName).toBe("TimeoutError");
    expect(r.observation.errorMessage).toBe("execution exceeded its timeout of 0.5 s and was interrupted");
    expect(r.observation.interpreterRestarted).toBe(false);
    expect(r.observation.stderr).toContain("KeyboardInterrupt");
    expect(r.observation.stderr).not.toMatch(/openenv-coding-driver|<string>/);
    expect(r.reward).toBe(0);
    const next = await env.step({ code: "print(kept)" });
    expect(next.observation.stdout).toBe("yes\n");
  });

  it("kills and restarts an interpreter that ignores the interrupt; the next step works", async () => {
    await using env = await connect();
    await env.reset();
    const kernel = (await env.step({ code: "import os\nlost = os.getpid()\nprint(lost)" })).observation.stdout;
    const stubborn = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass";
    const r = await env.step({ code: `print('started', flush=True)\n${stubborn}`, timeoutS: 0.5 });
    expect(r.observation.status).toBe(ExecutionStatus.TIMEOUT);
    expect(r.observation.interpreterRestarted).toBe(true);
    expect(r.observation.errorMessage).toMatch(/did not stop when interrupted; the interpreter was killed and restarted/);
    expect(r.observation.stdout).toBe("started\n");
    const next = await env.step({ code: "import os\nprint('lost' in globals(), os.getpid())" });
    const [lost, pid] = next.observation.stdout.trim().split(" ");
    expect(lost).toBe("False");
    expect(`${pid}\n`).not.toBe(kernel);
    expect((await env.state()).interpreterRestarts).toBe(1);
  });

  it("replaces an interpreter that died between steps and says so", async () => {
    await using env = await connect();
    await env.reset();
    await env.step({
      code: "import os, threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), os._exit(7))).start()\nlost = 1",
    });
    // The supervisor replaces the dead interpreter at once: its globals are empty again.
    await waitFor(async () => !(await env.state()).variables.includes("lost"));
    const r = await env.step({ code: "print('lost' in globals())" });
    expect(r.observation.stdout).toBe("False\n");
    expect(r.observation.interpreterRestarted).toBe(true);
    expect((await env.state()).interpreterRestarts).toBe(1);
  });

  it("reports an interpreter killed by the CPU time limit, and restarts it", async () => {
    const cpu = await start({ cpuTimeLimitS: 1 });
    await using env = await connect(cpu);
    await env.reset();
    const r = await env.step({ code: "while True:\n    pass", timeoutS: 60 });
    expect(r.observation.status).toBe(ExecutionStatus.KILLED);
    expect(r.observation.exitCode).toBe(128 + 24); // SIGXCPU
    expect(r.observation.errorMessage).toMatch(/signal SIGXCPU \(the CPU time limit of 1 s\) and was restarted/);
    expect(r.observation.interpreterRestarted).toBe(true);
    expect((await env.step({ code: "print('fresh')" })).observation.stdout).toBe("fresh\n");
  });

  it("applies the server's default timeout when the action sets none", async () => {
    const quick = await start({ defaultTimeoutS: 0.5 });
    await using env = await connect(quick);
    await env.reset();
    const r = await env.step({ code: "import time\ntime.sleep(30)" });
    expect(r.observation.status).toBe(ExecutionStatus.TIMEOUT);
    expect(r.metadata.timeout_s).toBe(0.5);
  });

  it("stops the code before a short client deadline, answering with an observation rather than an error", async () => {
    await using env = await connect();
    await env.reset();
    const r = await env.step({ code: "import time\ntime.sleep(30)" }, { timeoutMs: 3_000 });
    expect(r.observation.status).toBe(ExecutionStatus.TIMEOUT);
    expect(r.metadata.timeout_s).toBeGreaterThan(0.5);
    expect(r.metadata.timeout_s).toBeLessThanOrEqual(1.5);
    expect((await env.step({ code: "print('next')" })).observation.stdout).toBe("next\n");
  });

  it("scores the action's tests: the reward is the fraction that pass", async () => {
    await using env = await connect();
    await env.reset();
    const tests = [
      { name: "adds", code: "assert add(2, 3) == 5" },
      { code: "assert add(-1, 1) == 0" },
      { name: "wrong", code: "print('checking'); assert add(2, 2) == 5, 'expected 5'" },
      { name: "crashes", code: "add('a')" },
    ];
    const r = await env.step({ code: "def add(a, b):\n    return a + b", tests });
    expect(r.observation.tests.map((t) => [t.name, t.passed])).toEqual([
      ["adds", true],
      ["test_1", true],
      ["wrong", false],
      ["crashes", false],
    ]);
    expect(r.observation.tests[2].message).toBe("AssertionError: expected 5");
    expect(r.observation.tests[2].output).toBe("checking\n");
    expect(r.observation.tests[3].message).toMatch(/^TypeError: add\(\) missing 1 required positional argument/);
    expect([r.observation.testsPassed, r.observation.testsFailed]).toEqual([2, 2]);
    expect(r.reward).toBe(0.5);
    expect(r.rewardComponents).toEqual({ executed: 1, tests: 0.5 });
    const broken = await env.step({ code: "raise ValueError('no')", tests: [{ code: "pass" }] });
    expect(broken.observation.tests[0]).toMatchObject({ passed: false, message: "not run: the code failed" });
    expect(broken.reward).toBe(0);
  });

  it("caps output and says so", async () => {
    const capped = await start({ maxOutputBytes: 1000 });
    await using env = await connect(capped);
    await env.reset();
    const r = await env.step({ code: "print('x' * 5000)\nimport sys\nsys.stderr.write('y' * 10)" });
    expect(r.observation.stdout).toBe("x".repeat(1000));
    expect(r.observation.stdoutTruncated).toBe(true);
    expect(r.observation.stderr).toBe("y".repeat(10));
    expect(r.observation.stderrTruncated).toBe(false);
    const next = await env.step({ code: "print('ok')" });
    expect(next.observation.stdout).toBe("ok\n");
    expect(next.observation.stdoutTruncated).toBe(false);
  });

  it("contains a memory hog: MemoryError, and the session keeps its state", async () => {
    const small = await start({ memoryLimitMb: 256 });
    await using env = await connect(small);
    await env.reset();
    await env.step({ code: "kept = 7" });
    const r = await env.step({ code: "hog = bytearray(2 * 1024 ** 3)" });
    expect(r.observation.status).toBe(ExecutionStatus.ERROR);
    expect(r.observation.errorName).toBe("MemoryError");
    const growing = await env.step({ code: "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024 ** 2))" });
    expect(growing.observation.errorName).toBe("MemoryError");
    const next = await env.step({ code: "del chunks\nprint(kept)" });
    expect(next.observation.stdout).toBe("7\n");
  });

  it.skipIf(!isRoot)("contains a fork bomb within the process limit and leaves nothing behind", async () => {
    const limited = await start({ maxProcesses: 12 });
    await using env = await connect(limited);
    await env.reset();
    const state = await env.state();
    const uid = state.sandboxUid as number;
    expect(uid).toBeGreaterThan(0);
    let peak = 0;
    const watcher = setInterval(() => {
      peak = Math.max(peak, ofUid(uid).length);
    }, 20);
    const bomb =
      "import os, time\nfailures = 0\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        failures += 1\n        time.sleep(0.01)";
    const r = await env.step({ code: bomb, timeoutS: 1.5 }).finally(() => clearInterval(watcher));
    expect(r.observation.status).toBe(ExecutionStatus.TIMEOUT);
    expect(peak).toBeGreaterThan(1);
    expect(peak).toBeLessThanOrEqual(12);
    // Every bomb process is gone; only the sandbox (bwrap and its init), the supervisor and the interpreter remain.
    await waitFor(() => ofUid(uid).length <= 4, 15_000, "the bomb's processes gone");
    const next = await env.step({ code: "print('alive')" });
    expect(next.observation.stdout).toBe("alive\n");
  });

  it("passes no server secrets and runs in its own directory (and, as root, as its own user)", async () => {
    process.env.OPENENV_TEST_SECRET = "s3cret-token";
    try {
      await using env = await connect();
      const first = await env.reset();
      const r = await env.step({
        code: "import os, json\nprint(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd(), 'uid': os.getuid()}))",
      });
      const seen = JSON.parse(r.observation.stdout) as { env: Record<string, string>; cwd: string; uid: number };
      expect(JSON.stringify(seen.env)).not.toContain("s3cret-token");
      expect(Object.keys(seen.env).sort()).toEqual(
        ["HOME", "LANG", "PATH", "PWD", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "PYTHONUNBUFFERED", "TMPDIR", "LC_CTYPE"]
          .filter((k) => (k !== "LC_CTYPE" || "LC_CTYPE" in seen.env) && (k !== "PWD" || "PWD" in seen.env))
          .sort(),
      );
      expect(seen.cwd).toBe(first.metadata.working_directory);
      expect(seen.cwd).toBe("/work");
      expect(seen.env.HOME).toBe(seen.cwd);
      if (isRoot) {
        expect(seen.uid).toBe((await env.state()).sandboxUid);
        expect(seen.uid).not.toBe(0);
        const probe = await env.step({ code: "open(f'/proc/{os.getppid()}/environ').read()" });
        expect(probe.observation.errorName).toBe("PermissionError");
      }
    } finally {
      delete process.env.OPENENV_TEST_SECRET;
    }
  });

  it("seeds random and hashing: the same seed gives the same output", async () => {
    await using env = await connect();
    const code = "import random\nprint(random.random(), hash('openenv'))";
    await env.reset({ seed: 5 });
    const a = (await env.step({ code })).observation.stdout;
    await env.reset({ seed: 5 });
    const b = (await env.step({ code })).observation.stdout;
    await env.reset({ seed: 6 });
    const c = (await env.step({ code })).observation.stdout;
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect((await env.state()).seed).toBe(6n);
  });

  it("runs setup code at reset", async () => {
    await using env = await connect();
    const r = await env.reset({ options: { setup_code: "import json\nprint('ready')" } });
    expect(r.observation.stdout).toBe("ready\n");
    expect((await env.step({ code: "json.dumps([1])" })).observation.result).toBe("'[1]'");
  });

  it("rejects bad actions and options with INVALID_ARGUMENT", async () => {
    await using env = await connect();
    await env.reset();
    await expectConnectError(
      env.step({ code: "1", timeoutS: 0 }),
      Code.InvalidArgument,
      /timeout_s: value must be greater than or equal to 0.001/,
    );
    await expectConnectError(env.step({ code: "1", tests: [{ name: "t" }] }), Code.InvalidArgument, /tests\[0\]\.code: value is required/);
    await expectConnectError(env.reset({ options: { setup: "x" } }), Code.InvalidArgument, /invalid reset options: .*setup/);
    const fine = await env.step({ code: "print(1)" });
    expect(fine.observation.stdout).toBe("1\n");
  });

  it.skipIf(!isRoot)("leaves no process behind when the session closes, even processes that left the group", async () => {
    const env = await connect();
    await env.reset();
    await env.step({
      code: "import subprocess\nsubprocess.Popen(['sleep', '1000'])\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)",
    });
    const uid = (await env.state()).sandboxUid as number;
    expect(ofUid(uid).length).toBeGreaterThanOrEqual(6);
    await env.close();
    await waitFor(() => ofUid(uid).length === 0, 15_000, "the sandbox's processes gone");
  });

  it("runs as the server's own user with runAs 'self' unsandboxed, and still cleans up its process group and directory", async () => {
    const self = await start({ runAs: "self", sandbox: "none" });
    const env = await connect(self);
    await env.reset();
    const r = await env.step({ code: "import os, subprocess\nsubprocess.Popen(['sleep', '1000'])\nprint(os.getuid())" });
    expect(r.observation.stdout).toBe(`${process.getuid?.()}\n`);
    const state = await env.state();
    expect(state.sandboxUid).toBeUndefined();
    expect(state.workingDirectory).not.toBe("/work");
    expect(sandboxProcesses(state.interpreterPid).length).toBeGreaterThanOrEqual(3);
    await env.close();
    await expectNoSandboxProcesses(state.interpreterPid, undefined);
    await waitFor(() => !fs.existsSync(state.workingDirectory));
  });

  it.skipIf(!isRoot)("leaves nothing behind when the server shuts down", async () => {
    const own = await serve(CodingEnvironment, { port: 0, shutdownTimeoutMs: 1_000 });
    const env = await connect(own);
    await env.reset();
    await env.step({ code: "import subprocess\nsubprocess.Popen(['sleep', '1000'])" });
    const uid = (await env.state()).sandboxUid as number;
    // A step still running at shutdown is stopped too.
    const running = env.step({ code: "import time\ntime.sleep(1000)" }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    await own.close();
    await running;
    await env.close().catch(() => {});
    await waitFor(() => ofUid(uid).length === 0, 15_000, "the sandbox's processes gone");
  });

  it.skipIf(!isRoot)("leaves no process behind when the server process is killed", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/coding-server.ts"], {
      cwd: path.resolve(import.meta.dirname, "../.."),
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout?.on("data", (d: Buffer) => {
          out += d.toString();
          if (out.includes("\n")) resolve(out.trim());
        });
        child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
      });
      const env = await EnvClient.connect({ baseUrl: url, spec: codingSpec });
      await env.reset();
      await env.step({ code: "import subprocess\nsubprocess.Popen(['sleep', '1000'])" });
      const uid = (await env.state()).sandboxUid as number;
      const running = env.step({ code: "while True:\n    pass" }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
      expect(ofUid(uid).length).toBeGreaterThanOrEqual(5);
      child.kill("SIGKILL");
      await running;
      await waitFor(() => ofUid(uid).length === 0, 15_000, "the sandbox's processes gone");
      await env.close().catch(() => {});
    } finally {
      child.kill("SIGKILL");
    }
  });
});
