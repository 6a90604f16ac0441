import { mkdirSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { EchoEnvironment } from "../../src/envs/echo/environment.js";
import { MazeEnvironment } from "../../src/envs/maze/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { type FakeServer, startFakeOpenEnv, startNotOpenEnv } from "./fixtures/fake-openenv-server.js";
import { cleanupTemp, closedPort, runCli, tempDir } from "./helpers.js";

/**
 * `openenv reset|step|state|close|validate --url` against servers the CLI did
 * not start (issue 13 items 5-10): OpenEnv's HTTP/WebSocket-only servers (ours
 * with HTTP/2 off stands in for OpenEnv's Python one), servers that want a
 * token, a server that is no environment at all, and nothing listening.
 */

const token = "cli-secret-token";
let h2: EnvironmentServer;
let h1: EnvironmentServer;
let h1Token: EnvironmentServer;
let h2Token: EnvironmentServer;
let maze: EnvironmentServer;
let fake: FakeServer;
let web: FakeServer;

beforeAll(async () => {
  [h2, h1, h1Token, h2Token, maze] = await Promise.all([
    serve(EchoEnvironment, { port: 0 }),
    serve(EchoEnvironment, { port: 0, http2: false }),
    serve(EchoEnvironment, { port: 0, http2: false, auth: { tokens: [token] } }),
    serve(EchoEnvironment, { port: 0, auth: { tokens: [token] } }),
    serve(MazeEnvironment, { port: 0 }),
  ]);
  fake = await startFakeOpenEnv();
  web = await startNotOpenEnv();
});
afterAll(async () => {
  await Promise.all([h2, h1, h1Token, h2Token, maze].map((s) => s?.close()));
  await fake?.close();
  await web?.close();
  cleanupTemp();
});

/**
 * The CLI with OPENENV_AUTH_TOKEN unset unless given: in this process (the code
 * `bin/openenv.js` runs, without its start-up time), or as a child process when
 * it reads stdin.
 */
async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  input?: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (input !== undefined) {
    const base = { ...process.env };
    delete base.OPENENV_AUTH_TOKEN;
    return runCli(args, { env: { ...base, ...env }, input });
  }
  const saved = process.env.OPENENV_AUTH_TOKEN;
  delete process.env.OPENENV_AUTH_TOKEN;
  Object.assign(process.env, env);
  let stdout = "";
  let stderr = "";
  try {
    const code = await run(args, { out: (t) => (stdout += t), err: (t) => (stderr += t) });
    return { code, stdout, stderr };
  } finally {
    if (saved === undefined) delete process.env.OPENENV_AUTH_TOKEN;
    else process.env.OPENENV_AUTH_TOKEN = saved;
  }
}

const lines = (stdout: string): Array<Record<string, unknown>> =>
  stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** reset → step (two actions) → state → close → state (gone), each a separate process, as a shell script would. */
async function sessionRoundTrip(url: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<void> {
  const reset = await cli(["reset", "--url", url, "--seed", "3", ...extra], env);
  expect(reset.stderr).toBe("");
  expect(reset.code).toBe(0);
  const [first] = lines(reset.stdout);
  expect(first).toMatchObject({ observation: { echoed_message: "Echo environment ready!", message_length: 0 }, step_count: 0 });
  const session = first!.session_id as string;
  expect(session).toMatch(/\S/);
  const step = await cli(["step", "--url", url, "--session", session, '{"message":"hi"}', '{"message":"abc"}', ...extra], env);
  expect(step.stderr).toBe("");
  expect(lines(step.stdout).map((r) => [(r.observation as { echoed_message: string }).echoed_message, r.step_count, r.session_id])).toEqual(
    [
      ["hi", 1, session],
      ["abc", 2, session],
    ],
  );
  const state = await cli(["state", "--url", url, "--session", session, ...extra], env);
  expect(state.stderr).toBe("");
  expect(lines(state.stdout)[0]).toMatchObject({ session_id: session, step_count: 2, state: { step_count: 2, total_characters: "5" } });
  const close = await cli(["close", "--url", url, "--session", session, ...extra], env);
  expect(close.stderr).toBe("");
  expect(lines(close.stdout)[0]).toEqual({ closed: true });
  const gone = await cli(["state", "--url", url, "--session", session, ...extra], env);
  expect(gone.code).toBe(1);
  expect(gone.stderr).toMatch(/not found/i);
}

describe("item 5: the CLI uses EnvClient's transport choice", { timeout: 120_000 }, () => {
  it("drives an OpenEnv HTTP/WS-only server (HTTP/2 off) through reset, step, state and close with the default --protocol auto", async () => {
    await sessionRoundTrip(h1.url);
  });

  it.each(["http", "connect", "grpc", "grpc-web"])("does the same with --protocol %s", async (protocol) => {
    await sessionRoundTrip(protocol === "http" ? h1.url : h2.url, ["--protocol", protocol]);
  });

  it("runs a whole episode in one command over --protocol websocket", async () => {
    const r = await cli(["step", "--url", h1.url, "--protocol", "websocket", "--reset", "--close", '{"message":"ws"}']);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(lines(r.stdout).map((x) => (x.observation as { echoed_message: string }).echoed_message)).toEqual([
      "Echo environment ready!",
      "ws",
    ]);
  });

  it("drives a server with no Describe (OpenEnv's Python server) with plain JSON", async () => {
    const reset = await cli(["reset", "--url", fake.url]);
    expect(reset.code).toBe(0);
    expect(lines(reset.stdout)[0]).toMatchObject({ observation: { echoed_message: "ready" }, reward: 0, done: false, session_id: null });
    expect(reset.stderr).toMatch(/keeps no session between commands/);
    const episode = await cli(["step", "--url", fake.url, "--reset", "--close", '{"message":"a"}', '{"message":"b"}']);
    expect(episode.stderr).toBe("");
    expect(lines(episode.stdout)).toHaveLength(3);
    const attach = await cli(["state", "--url", fake.url, "--session", "abc"]);
    expect(attach.code).toBe(2);
    expect(attach.stderr).toMatch(/^openenv state: .*keeps no session between commands/);
  });

  it("says in one line that a URL speaks no OpenEnv protocol", async () => {
    const r = await cli(["reset", "--url", web.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `Error: ${web.url} does not speak an OpenEnv protocol (no Connect/gRPC service, no /ws WebSocket, no OpenEnv /health)\n`,
    );
  });

  it("says the server is not running when the connection is refused (exit 4)", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    for (const command of [["reset"], ["state", "--session", "x"], ["step", "--reset"]]) {
      const r = await cli([...command, "--url", url]);
      expect(r.code).toBe(4);
      expect(r.stderr).toBe(`Error: nothing is listening at ${url} (connection refused): is the server running?\n`);
    }
  });

  it("refuses an unknown --protocol with the list of choices", async () => {
    const r = await cli(["reset", "--url", h2.url, "--protocol", "carrier-pigeon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--protocol must be one of auto, connect, grpc, grpc-web, connect-json, websocket, http");
  });
});

describe("item 6: --token and OPENENV_AUTH_TOKEN", { timeout: 120_000 }, () => {
  it("without a token: UNAUTHENTICATED, with a hint", async () => {
    const r = await cli(["reset", "--url", h1Token.url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("[Unauthenticated]");
    expect(r.stderr).toContain("--token");
  });

  it("drives the HTTP/WS-only server with --token, and with OPENENV_AUTH_TOKEN", async () => {
    await sessionRoundTrip(h1Token.url, ["--token", token]);
    await sessionRoundTrip(h1Token.url, [], { OPENENV_AUTH_TOKEN: token });
  });

  it("drives the HTTP/2 server with --token over gRPC", async () => {
    await sessionRoundTrip(h2Token.url, ["--token", token, "--protocol", "grpc"]);
  });

  it("validate --url sends the token", async () => {
    const without = await cli(["validate", "--url", h2Token.url, "--checks", "grpc"]);
    expect(without.code).toBe(1);
    expect(without.stdout).toMatch(/^FAIL {2}describe .*Unauthenticated/m);
    const withToken = await cli(["validate", "--url", h2Token.url, "--token", token]);
    expect(withToken.stdout).not.toMatch(/^FAIL/m);
    expect(withToken.code).toBe(0);
  });
});

describe("item 7: --protocol connect-json", () => {
  it("resets, steps and reads the state", async () => {
    await sessionRoundTrip(h2.url, ["--protocol", "connect-json"]);
  });
});

describe("item 8: step --reset --close with a bad action", { timeout: 120_000 }, () => {
  it.each([
    ["an argument", ['{"mesage":"typo"}'], undefined],
    ["a later stdin line", [], '{"message":"ok"}\n{"mesage":"typo"}\n'],
  ])("closes the session it opened when %s is bad", async (_, actions, input) => {
    const before = h2.router.sessions.stats();
    const r = await cli(["step", "--url", h2.url, "--reset", "--close", ...actions], {}, input);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("mesage");
    const after = h2.router.sessions.stats();
    expect(after.active).toBe(before.active);
  });
});

describe("item 9: enum values by name", () => {
  it("openenv info lists an enum's values", async () => {
    const r = await cli(["info", "maze"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^ {3}direction +enum openenv\.envs\.maze\.v1\.Direction: DIRECTION_UP, DIRECTION_DOWN, DIRECTION_LEFT, DIRECTION_RIGHT$/m,
    );
  });

  it("openenv step accepts an enum name and lists the values for a bad one", async () => {
    const ok = await cli(["step", "--url", maze.url, "--reset", "--close", '{"direction":"DIRECTION_RIGHT"}', '{"direction":2}']);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(lines(ok.stdout).map((l) => l.step_count)).toEqual([0, 1, 2]);
    const bad = await cli(["step", "--url", maze.url, "--reset", "--close", '{"direction":"SIDEWAYS"}']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("direction: 'SIDEWAYS' is not a value of openenv.envs.maze.v1.Direction");
    expect(bad.stderr).toContain("DIRECTION_UP, DIRECTION_DOWN, DIRECTION_LEFT, DIRECTION_RIGHT");
  });
});

describe("item 10: exit codes and help", () => {
  it("exits 4 when the port is in use", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const r = await cli(["serve", "echo", "--port", String(port)]);
      expect(r.code).toBe(4);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it("lists --version in the help", async () => {
    const r = await cli(["help"]);
    expect(r.stdout).toMatch(/^ +openenv --version +print the version$/m);
  });
});

describe("item 12: openenv init", { timeout: 120_000 }, () => {
  it("keeps the name as given, and discovery sees the new environment inside its own project", async () => {
    const parent = tempDir("cli-init");
    const init = await runCli(["init", "my_env", "--openenv-connect", "file:/nowhere"], { cwd: parent });
    expect(init.code).toBe(0);
    expect(init.stdout).toMatch(/^Created openenv-my-env \(environment 'my_env'/);
    const project = join(parent, "my_env");
    const sub = join(project, "test");
    mkdirSync(sub, { recursive: true });
    for (const cwd of [project, sub]) {
      const list = await runCli(["list", "--json"], { cwd });
      const mine = (JSON.parse(list.stdout) as Array<{ env_key: string; name: string; source: string }>).find((e) => e.name === "my_env");
      expect(mine).toMatchObject({ env_key: "my", source: "project" });
    }
  });

  it("warns when the name is a bundled environment's", async () => {
    const parent = tempDir("cli-init-echo");
    const r = await runCli(["init", "echo", "--openenv-connect", "file:/nowhere"], { cwd: parent });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^warning: 'echo' is also the name of a bundled environment/);
  });
});
