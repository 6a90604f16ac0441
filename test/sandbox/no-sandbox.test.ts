// Where bubblewrap is missing: `openenv serve coding` says so and refuses, unless the
// operator passes --unsafe-no-sandbox; the library refuses sessions with
// FAILED_PRECONDITION. And a hostile driver (whatever speaks on the event channel)
// never takes the server down: null frames, done events without fields, a 4 GiB
// header, text that is not JSON.
import { spawn } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { ExecutionStatus } from "../../gen/openenv/envs/coding/v1/coding_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { CodingEnvironment, codingSpec } from "../../src/envs/coding/environment.js";
import { serve } from "../../src/server/serve.js";
import { cleanupTemp, repoRoot, runCli, startCliServer, tempDir } from "../auto/helpers.js";
import { expectConnectError } from "../envs/helpers.js";

afterAll(cleanupTemp);
const noBwrap = { ...process.env, OPENENV_BWRAP: "/nonexistent/bwrap" };

describe("without bubblewrap", () => {
  it("openenv serve coding refuses to start, saying why and what to do", async () => {
    const r = await runCli(["serve", "coding", "--port", "0"], { env: noBwrap, timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /bubblewrap \(bwrap\) is not installed: coding runs untrusted code and is served only in sandboxes; install bubblewrap .*or pass --unsafe-no-sandbox/,
    );
  });

  it("with --unsafe-no-sandbox it warns at start and runs the code unsandboxed", async () => {
    const cli = await startCliServer(["coding", "--unsafe-no-sandbox"], { env: noBwrap });
    try {
      expect(cli.stderr()).toMatch(/WARNING: bubblewrap \(bwrap\) is not installed; coding runs untrusted code WITHOUT a sandbox/);
      await using env = await EnvClient.connect({ baseUrl: cli.url, spec: codingSpec });
      await env.reset();
      const r = await env.step({ code: "import os\nprint(os.getcwd())" });
      expect(r.observation.stdout).not.toBe("/work\n");
      expect(r.observation.stdout).toMatch(/openenv-coding-/);
    } finally {
      await cli.stop();
    }
  }, 90_000);

  it("a server built with the library refuses coding sessions with FAILED_PRECONDITION", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/coding-server.ts"], {
      cwd: repoRoot,
      env: noBwrap,
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
      });
      await using env = await EnvClient.connect({ baseUrl: url, spec: codingSpec });
      await expectConnectError(
        env.reset(),
        Code.FailedPrecondition,
        /bubblewrap \(bwrap\) is not installed: the coding environment does not run untrusted code without a sandbox/,
      );
    } finally {
      child.kill("SIGKILL");
    }
  }, 90_000);
});

/** A stand-in driver that answers the handshake, then does `MODE` on its event channel. */
const hostileDriver = `#!/usr/bin/python3
import json, os, struct, sys, time
def rd(fd, n):
    b = b''
    while len(b) < n:
        c = os.read(fd, n - len(b))
        if not c:
            sys.exit(0)
        b += c
    return b
def frame():
    return rd(3, struct.unpack('>I', rd(3, 4))[0])
def send(body):
    os.write(4, struct.pack('>I', len(body)) + body)
frame()
frame()
send(b'{"ev":"ready","version":"3.0.0"}')
mode = os.environ['MODE']
frame()
if mode == 'null':
    send(b'null')
elif mode == 'no-fields':
    send(b'{"ev":"done","seq":1}')
elif mode == 'wrong-types':
    send(b'{"ev":"done","seq":1,"exit_code":0,"error_name":"","error_message":"","result":"","interrupted":false,"tests":7,"restarted":false,"killed":false,"died":null}')
elif mode == 'not-json':
    send(b'{{{')
elif mode == 'huge':
    os.write(4, struct.pack('>I', 0xFFFFFFF0))
    end = time.time() + 5
    while time.time() < end:
        try:
            os.write(4, b'x' * 1048576)
        except OSError:
            break
time.sleep(60)
`;

describe("a hostile driver", () => {
  const dir = tempDir("hostile-driver");
  const script = join(dir, "python3");
  writeFileSync(script, hostileDriver);
  chmodSync(script, 0o755);

  it.each(["null", "no-fields", "wrong-types", "not-json", "huge"])(
    "sending %s is cut off; the server and other sessions go on",
    async (mode) => {
      const hostile = await serve(CodingEnvironment.with({ sandbox: "none", runAs: "self", python: script, env: { MODE: mode } }), {
        port: 0,
      });
      const honest = await serve(CodingEnvironment.with({ sandbox: "none", runAs: "self" }), { port: 0 });
      try {
        await using victim = await EnvClient.connect({ baseUrl: hostile.url, spec: codingSpec });
        await victim.reset();
        const started = Date.now();
        const r = await victim.step({ code: "print(1)", timeoutS: 30 });
        expect(r.observation.status).toBe(ExecutionStatus.KILLED);
        expect(Date.now() - started).toBeLessThan(20_000);
        expect((await fetch(`${hostile.url}/health`)).status).toBe(200);
        await using other = await EnvClient.connect({ baseUrl: honest.url, spec: codingSpec });
        await other.reset();
        expect((await other.step({ code: "print('fine')" })).observation.stdout).toBe("fine\n");
      } finally {
        await Promise.all([hostile.close(), honest.close()]);
      }
    },
    60_000,
  );

  it("an unusable python is refused at reset with a clear error", async () => {
    const server = await serve(CodingEnvironment.with({ sandbox: "none", runAs: "self", python: "/nonexistent/python3" }), { port: 0 });
    try {
      await using env = await EnvClient.connect({ baseUrl: server.url, spec: codingSpec });
      await expectConnectError(env.reset(), Code.Internal, /nonexistent/);
    } finally {
      await server.close();
    }
  });
});
