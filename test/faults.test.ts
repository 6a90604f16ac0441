// Faults: client processes killed mid-episode and mid-step, environments that throw or
// whose child process dies, and a real `openenv serve` process stopped with SIGTERM.
import { type ChildProcess, spawn } from "node:child_process";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as path from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ExecutionStatus, OutputStream } from "../gen/openenv/envs/coding/v1/coding_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { CodingEnvironment, codingSpec } from "../src/envs/coding/environment.js";
import { echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { processTable, sandboxProcesses } from "./fixtures/process-table.js";
import { RawWs } from "./fixtures/raw-ws.js";
import { ScriptedEnvironment, scriptedSpec, scriptedStats } from "./fixtures/scripted-env.js";
import { waitFor } from "./helpers.js";

const root = path.resolve(import.meta.dirname, "..");
const children: ChildProcess[] = [];
const servers: EnvironmentServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/** Spawns a Node process (tsx) and collects its stdout lines and stderr. */
function spawnNode(args: string[]) {
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    partial += d.toString();
    const parts = partial.split("\n");
    partial = parts.pop() ?? "";
    lines.push(...parts.filter((l) => l.trim() !== ""));
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return {
    child,
    exited,
    stderr: () => stderr,
    async line(timeoutMs = 60_000): Promise<Record<string, unknown>> {
      await waitFor(() => lines.length > 0 || child.exitCode !== null, timeoutMs, "a line from the child process");
      const line = lines.shift();
      if (line === undefined) throw new Error(`the child exited (${child.exitCode}) before printing: ${stderr}`);
      return JSON.parse(line) as Record<string, unknown>;
    },
  };
}

const alive = (pid: number | undefined) => pid !== undefined && processTable().some((p) => p.pid === pid);

describe("a client process killed with SIGKILL leaks nothing", () => {
  it.each([
    ["grpc", "episode"],
    ["grpc", "step"],
    ["connect", "step"],
    ["websocket", "episode"],
    ["websocket", "step"],
  ] as const)("%s, killed mid-%s", async (transport, mode) => {
    const server = await serve(ScriptedEnvironment, { port: 0, resumeGraceMs: 500 });
    servers.push(server);
    const slotsBefore = server.router.sessions.active;
    const closedBefore = scriptedStats.closed;
    const client = spawnNode(["--import", "tsx", "test/fixtures/client-process.ts", server.url, transport, mode]);
    const ready = await client.line();
    expect(ready.event).toBe(mode === "step" ? "stepping" : "ready");
    expect(ready.transport).toBe(transport);
    expect(server.router.sessions.active).toBe(slotsBefore + 1);
    const abortedBefore = scriptedStats.aborted;

    client.child.kill("SIGKILL");
    const exit = await client.exited;
    expect(exit.signal).toBe("SIGKILL");
    expect(alive(client.child.pid)).toBe(false);

    // The slot comes back (after the resume grace on the Step stream), the environment is closed,
    // a running step is told through its abort signal, and the connection is gone.
    await waitFor(() => server.router.sessions.active === slotsBefore, 15_000, "slot freed");
    await waitFor(() => scriptedStats.closed === closedBefore + 1, 15_000, "environment closed");
    if (mode === "step") expect(scriptedStats.aborted).toBe(abortedBefore + 1);
    await waitFor(() => server.listener.connections() === 0, 15_000, "connection closed");
    expect(server.router.sessions.stats().opened).toBe(server.router.sessions.stats().closed);
  });
});

describe("clients that vanish at the worst moment", () => {
  // Found by the soak test: Node emits a new HTTP/2 stream a tick after its HEADERS, so a
  // client that resets the stream (or drops the connection) in the same packet left the fast
  // Step path calling respond() on a destroyed stream, an uncaught exception.
  it("a stream reset, or a connection dropped, right behind its HEADERS never takes the server down", async () => {
    const server = await serve(ScriptedEnvironment, { port: 0 });
    servers.push(server);
    const targets: http2.OutgoingHttpHeaders[] = [
      { ":method": "POST", ":path": "/openenv.v1.EnvironmentService/Step", "content-type": "application/grpc" },
      { ":method": "POST", ":path": "/openenv.v1.EnvironmentService/Step", "content-type": "application/connect+proto" },
      { ":method": "POST", ":path": "/openenv.v1.EnvironmentService/Step", "content-type": "application/grpc+json" },
      { ":method": "POST", ":path": "/openenv.v1.EnvironmentService/Reset", "content-type": "application/proto" },
      { ":method": "POST", ":path": "/reset", "content-type": "application/json" },
      { ":method": "GET", ":path": "/health" },
    ];
    for (const headers of targets) {
      for (const how of ["reset stream", "drop connection"] as const) {
        for (let i = 0; i < 10; i++) {
          const h2 = http2.connect(server.url);
          h2.on("error", () => {});
          await new Promise((r) => h2.once("connect", r));
          const stream = h2.request(headers, { endStream: false });
          stream.on("error", () => {});
          if (how === "drop connection") h2.destroy();
          else stream.close(http2.constants.NGHTTP2_CANCEL);
          await new Promise((r) => setTimeout(r, 1));
          h2.destroy();
        }
      }
    }
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
    await env.reset();
    expect((await env.step({ message: "still here" })).observation.echoedMessage).toBe("still here");
    await waitFor(() => server.router.sessions.active === 1, 10_000, "no session left behind");
  });
});

describe("environment failures stay in their session", () => {
  it("a throwing environment: EXECUTION_ERROR on the WebSocket, 500 on HTTP; the session and the others go on", async () => {
    const server = await serve(ScriptedEnvironment, { port: 0 });
    servers.push(server);
    await using other = await EnvClient.connect({ baseUrl: server.url, spec: scriptedSpec });
    await other.reset();
    const ws = await RawWs.open(`${server.url.replace("http", "ws")}/ws`);
    await ws.ask({ type: "reset" });
    expect(await ws.askJson({ type: "step", data: { message: "throw:kaputt" } })).toEqual({
      type: "error",
      data: { message: "kaputt", code: "EXECUTION_ERROR" },
    });
    const after = (await ws.askJson({ type: "step", data: { message: "fine" } })) as { data: { observation: { echoed_message: string } } };
    expect(after.data.observation.echoed_message).toBe("fine");
    ws.close();

    const stateless = await fetch(`${server.url}/step`, { method: "POST", body: '{"action":{"message":"throw:kaputt"}}' });
    expect(stateless.status).toBe(500);
    expect(await stateless.json()).toEqual({ detail: "kaputt", code: "internal" });
    const opened = await fetch(`${server.url}/reset`, { method: "POST", headers: { "openenv-session-id": "new" } });
    const id = opened.headers.get("openenv-session-id") as string;
    const failed = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "openenv-session-id": id },
      body: '{"action":{"message":"throw:x"}}',
    });
    expect(failed.status).toBe(500);
    const ok = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "openenv-session-id": id },
      body: '{"action":{"message":"ok"}}',
    });
    expect(((await ok.json()) as { observation: { echoed_message: string } }).observation.echoed_message).toBe("ok");
    await server.router.sessions.close(id);

    expect((await other.step({ message: "unaffected" })).stepCount).toBe(1);
  });

  it("the coding env's python child killed from outside mid-step fails only that step, with a clear error", async () => {
    const server = await serve(CodingEnvironment, { port: 0 });
    servers.push(server);
    await using victim = await EnvClient.connect({ baseUrl: server.url, spec: codingSpec, transport: "grpc" });
    await using bystander = await EnvClient.connect({ baseUrl: server.url, spec: codingSpec, transport: "websocket" });
    await victim.reset();
    await bystander.reset();
    await victim.step({ code: "kept = 1" });
    const victimPid = (await victim.state()).interpreterPid;
    const bystanderPid = (await bystander.state()).interpreterPid;
    expect(alive(victimPid)).toBe(true);

    let started = false;
    const running = victim.step(
      { code: "import time\nprint('started', flush=True)\ntime.sleep(60)" },
      {
        onPartial: (chunk) => {
          if (chunk.stream === OutputStream.STDOUT && chunk.text.includes("started")) started = true;
        },
      },
    );
    const concurrent = bystander.step({ code: "import time\ntime.sleep(0.5)\nprint('bystander ok')" });
    await waitFor(() => started, 30_000, "the victim's code is running");
    process.kill(victimPid, "SIGKILL");

    const r = await running;
    expect(r.observation.status).toBe(ExecutionStatus.KILLED);
    expect(r.observation.errorName).toBe("InterpreterDied");
    expect(r.observation.errorMessage).toMatch(
      /^the interpreter died with signal SIGKILL .* and was restarted \(earlier variables (and the files of the working directory )?are lost\)$/,
    );
    expect((await concurrent).observation.stdout).toBe("bystander ok\n");
    // The victim's session goes on with a fresh interpreter; the bystander's interpreter was never touched.
    const next = await victim.step({ code: "print('kept' in globals())" });
    expect(next.observation.stdout).toBe("False\n");
    expect((await victim.state()).interpreterPid).not.toBe(victimPid);
    expect((await bystander.state()).interpreterPid).toBe(bystanderPid);
    expect(server.router.sessions.active).toBe(2);
  }, 60_000);
});

/** True once a TCP connection to the port is refused. */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code === "ECONNREFUSED"));
  });
}

describe("graceful shutdown of a real `openenv serve` process on SIGTERM", () => {
  it("echo: stops accepting, ends streams with UNAVAILABLE and sockets with 1001, exits 0 at once", async () => {
    const cli = spawnNode(["bin/openenv.js", "serve", "echo", "--port", "0", "--json"]);
    const listening = await cli.line();
    expect(listening.event).toBe("listening");
    const url = listening.url as string;
    const port = listening.port as number;
    await using rpc = await EnvClient.connect({ baseUrl: url, spec: echoSpec, transport: "grpc" });
    await rpc.reset();
    const ws = await RawWs.open(`${url.replace("http", "ws")}/ws`);
    await ws.ask({ type: "reset" });

    const sent = Date.now();
    cli.child.kill("SIGTERM");
    const exit = await cli.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThan(10_000); // the default shutdown deadline; nothing here needs it
    expect(alive(cli.child.pid)).toBe(false);
    expect(cli.stderr()).toContain("shutting down (SIGTERM)");
    expect(await ws.closed).toEqual({ code: 1001, reason: "server shutting down" });
    const err = await rpc.step({ message: "late" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect(await refused(port)).toBe(true);
  });

  it("coding: finishes the running step and delivers it, refuses new connections, closes every environment (no python left)", async () => {
    const cli = spawnNode(["bin/openenv.js", "serve", "coding", "--port", "0", "--json"]);
    const listening = await cli.line();
    const url = listening.url as string;
    const port = listening.port as number;
    const busy = await EnvClient.connect({ baseUrl: url, spec: codingSpec, transport: "grpc" });
    const idle = await EnvClient.connect({ baseUrl: url, spec: codingSpec, transport: "websocket" });
    await busy.reset();
    await idle.reset();
    const pids = [(await busy.state()).interpreterPid, (await idle.state()).interpreterPid];
    const uids = [(await busy.state()).sandboxUid, (await idle.state()).sandboxUid];
    expect(pids.every(alive)).toBe(true);

    let started = false;
    const running = busy.step(
      { code: "import time\nprint('started', flush=True)\ntime.sleep(1.5)\nprint('finished')" },
      {
        onPartial: (c) => {
          if (c.text.includes("started")) started = true;
        },
      },
    );
    await waitFor(() => started, 30_000, "the step is running");
    const sent = Date.now();
    cli.child.kill("SIGTERM");
    // New connections are refused while the running step finishes.
    let refusedWhileRunning = false;
    for (let i = 0; i < 100 && !refusedWhileRunning; i++) {
      refusedWhileRunning = await refused(port);
      if (!refusedWhileRunning) await new Promise((r) => setTimeout(r, 20));
    }
    expect(refusedWhileRunning).toBe(true);
    const r = await running;
    expect(r.observation.stdout).toBe("started\nfinished\n");
    expect(r.observation.status).toBe(ExecutionStatus.OK);
    const exit = await cli.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThan(15_000); // shutdown deadline 10 s, plus the environments' close
    expect(alive(cli.child.pid)).toBe(false);
    // Every environment was closed: no interpreter (or anything it started) survives the server.
    for (let i = 0; i < pids.length; i++) {
      await waitFor(() => sandboxProcesses(pids[i] as number, uids[i]).length === 0, 15_000, "sandbox processes gone");
    }
    await Promise.all([busy.close().catch(() => {}), idle.close().catch(() => {})]);
  }, 90_000);
});
