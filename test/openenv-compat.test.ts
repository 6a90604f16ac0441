import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidatedActionSchema } from "../gen/openenv/testing/v1/validation_pb.js";
import { ValidationErrorsSchema } from "../gen/openenv/v1/environment_service_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import type { EnvironmentFactory } from "../src/server/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { recorded } from "./fixtures/openenv-recorded.js";
import { RawWs, shapeOf, waitFor } from "./fixtures/raw-ws.js";
import { ScriptedEnvironment } from "./fixtures/scripted-env.js";
import { ValidatedEnvironment, validatedSpec } from "./fixtures/validated-env.js";

/**
 * OpenEnv's HTTP/JSON and WebSocket protocol, driven with raw HTTP (fetch) and
 * raw WebSocket frames, checked field by field against exchanges recorded from
 * OpenEnv's Python server.
 */

let echo: EnvironmentServer;
let validated: EnvironmentServer;
let scripted: EnvironmentServer;

beforeAll(async () => {
  echo = await serve(EchoEnvironment, { port: 0 });
  validated = await serve(ValidatedEnvironment, { port: 0 });
  scripted = await serve(ScriptedEnvironment, { port: 0 });
});
afterAll(async () => {
  await Promise.all([echo.close(), validated.close(), scripted.close()]);
});

const wsUrl = (server: EnvironmentServer, path = "/ws"): string => `${server.url.replace("http://", "ws://")}${path}`;

async function get(server: EnvironmentServer, path: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function post(server: EnvironmentServer, path: string, body: string | undefined, headers: Record<string, string> = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const json = (text: string): Record<string, unknown> => JSON.parse(text) as Record<string, unknown>;

describe("HTTP routes (recorded shapes)", () => {
  it("GET /health is OpenEnv's body byte for byte", async () => {
    const r = await get(echo, "/health");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(r.text).toBe(recorded.http.health);
  });

  it("GET /metadata has OpenEnv's keys, in order, with nulls for what the env does not set", async () => {
    const r = await get(echo, "/metadata");
    expect(r.status).toBe(200);
    const body = json(r.text);
    expect(Object.keys(body)).toEqual(Object.keys(json(recorded.http.metadata)));
    expect(shapeOf(body)).toEqual(shapeOf(json(recorded.http.metadata)));
    expect(body).toMatchObject({ name: "echo", version: "1.0.0", readme_content: null, author: null, documentation_url: null });
  });

  it("GET /schema has action, observation and the env's real state, derived from the proto", async () => {
    const body = json((await get(echo, "/schema")).text) as Record<string, Record<string, unknown>>;
    expect(Object.keys(body)).toEqual(["action", "observation", "state"]);
    expect(body.action).toMatchObject({
      title: "EchoAction",
      type: "object",
      additionalProperties: false,
      properties: { message: { type: "string", maxLength: 1048576 } },
    });
    expect(body.observation?.additionalProperties).toBe(false);
    const props = body.observation?.properties as Record<string, unknown>;
    expect(Object.keys(props)).toEqual(["echoed_message", "message_length", "done", "reward", "metadata"]);
    for (const key of ["done", "reward", "metadata"] as const) expect(props[key]).toEqual(recorded.http.schemaObservationExtras[key]);
    // The env's own State (OpenEnv's snapshot returns the base State; upstream's state_cls returns the real one).
    expect(body.state).toMatchObject({ title: "EchoState", additionalProperties: true });
    expect(Object.keys(body.state?.properties as object)).toEqual(["episode_id", "step_count", "total_characters"]);
  });

  it("GET /state is a fresh environment's state, with the recorded keys first", async () => {
    const r = await get(echo, "/state");
    expect(r.status).toBe(200);
    const body = json(r.text);
    expect(Object.keys(body).slice(0, 2)).toEqual(Object.keys(json(recorded.http.state)));
    expect(body).toEqual({ episode_id: "", step_count: 0, total_characters: 0 });
  });

  it("POST /reset with no body or with seed and episode_id: OpenEnv's shape, reward as a float literal, plus metadata", async () => {
    for (const body of [undefined, '{"seed":1,"episode_id":"ep-1"}']) {
      const r = await post(echo, "/reset", body);
      expect(r.status).toBe(200);
      const payload = json(r.text);
      expect(Object.keys(payload)).toEqual([...Object.keys(json(recorded.http.reset)), "metadata"]);
      expect(r.text).toContain('"reward":0.0,"done":false');
      expect(payload.observation).toEqual({ echoed_message: "Echo environment ready!", message_length: 0 });
    }
    expect(echo.router.sessions.active).toBe(0);
  });

  it("POST /reset with a negative seed: the recorded 422, byte for byte", async () => {
    const r = await post(echo, "/reset", '{"seed":-1}');
    expect(r.status).toBe(422);
    expect(r.text).toBe(recorded.http.resetSeedNegative);
  });

  it("POST /reset with a seed of the wrong type and a too long episode_id: every error, FastAPI's shape", async () => {
    const r = await post(echo, "/reset", JSON.stringify({ seed: "abc", episode_id: "x".repeat(256) }));
    expect(r.status).toBe(422);
    expect(json(r.text).detail).toEqual([
      {
        type: "int_parsing",
        loc: ["body", "seed"],
        msg: "Input should be a valid integer, unable to parse string as an integer",
        input: "abc",
      },
      {
        type: "string_too_long",
        loc: ["body", "episode_id"],
        msg: "String should have at most 255 characters",
        input: "x".repeat(256),
        ctx: { max_length: 255 },
      },
    ]);
  });

  it("POST /step with an empty object and with broken JSON: the recorded 422s, byte for byte", async () => {
    const empty = await post(echo, "/step", "{}");
    expect(empty.status).toBe(422);
    expect(empty.text).toBe(recorded.http.stepEmptyBody);
    const broken = await post(echo, "/step", "{bad");
    expect(broken.status).toBe(422);
    expect(broken.text).toBe(recorded.http.stepBadJson);
  });

  it("POST /step with an unknown action field: the recorded extra_forbidden entry (loc relative to the action, with url)", async () => {
    const r = await post(echo, "/step", JSON.stringify({ action: { bogus: "hi" } }));
    expect(r.status).toBe(422);
    const [, recordedExtra] = json(recorded.http.stepInvalidAction).detail as object[];
    expect(json(r.text).detail).toEqual([{ ...recordedExtra, loc: ["bogus"] }]);
  });

  it("POST /step with a valid action: the recorded envelope with our observation, stateless", async () => {
    const r = await post(echo, "/step", JSON.stringify({ action: { message: "hi" }, timeout_s: 5, request_id: "r-1", extra_kwarg: 1 }));
    expect(r.status).toBe(200);
    const payload = json(r.text);
    expect(Object.keys(payload)).toEqual([...Object.keys(json(recorded.http.stepOk)), "metadata"]);
    expect(payload).toEqual({
      observation: { echoed_message: "hi", message_length: 2 },
      reward: 0.2,
      done: false,
      metadata: { original_message: "hi", step: 1 },
    });
    // Stateless: a second step runs on a fresh environment again.
    const again = json((await post(echo, "/step", JSON.stringify({ action: { message: "hi" } }))).text);
    expect(again.metadata).toEqual({ original_message: "hi", step: 1 });
    expect(echo.router.sessions.active).toBe(0);
  });

  it("POST /step envelope errors: timeout_s must be positive, action an object", async () => {
    const r = await post(echo, "/step", JSON.stringify({ action: [1], timeout_s: 0 }));
    expect(r.status).toBe(422);
    expect(json(r.text).detail).toEqual([
      { type: "dict_type", loc: ["body", "action"], msg: "Input should be a valid dictionary", input: [1] },
      { type: "greater_than", loc: ["body", "timeout_s"], msg: "Input should be greater than 0", input: 0, ctx: { gt: 0 } },
    ]);
  });

  it("a reward the environment does not give is null, and a finished episode says done", async () => {
    const r = await post(scripted, "/step", JSON.stringify({ action: { message: "truncate" } }));
    expect(r.status).toBe(200);
    expect(r.text).toContain('"reward":null,"done":true');
  });

  it("an environment error is a 500 with a message naming it; the server keeps serving", async () => {
    const r = await post(scripted, "/step", JSON.stringify({ action: { message: "throw:kaputt" } }));
    expect(r.status).toBe(500);
    expect(json(r.text)).toEqual({ detail: "kaputt", code: "internal" });
    expect((await get(scripted, "/health")).status).toBe(200);
  });

  it("unknown paths and wrong methods: FastAPI's 404 and 405", async () => {
    const missing = await get(echo, "/nope");
    expect(missing.status).toBe(404);
    expect(missing.text).toBe(recorded.http.notFound);
    const wrong = await get(echo, "/reset");
    expect(wrong.status).toBe(405);
    expect(json(wrong.text)).toEqual({ detail: "Method Not Allowed" });
  });

  it("GET /openapi.json: info.version 1.x and the simulation-mode paths (what `openenv validate --url` checks)", async () => {
    const doc = json((await get(echo, "/openapi.json")).text) as { info: { version: string }; paths: Record<string, unknown> };
    expect(doc.info.version).toMatch(/^1\./);
    for (const p of ["/reset", "/step", "/state", "/metadata", "/schema", "/health", "/mcp"]) expect(doc.paths).toHaveProperty(p);
    // Every $ref resolves inside the document.
    const text = JSON.stringify(doc);
    const components = (doc as unknown as { components: { schemas: Record<string, unknown> } }).components.schemas;
    for (const m of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) expect(components).toHaveProperty(m[1] as string);
  });

  it("production mode leaves out /reset, /step and /state (routes and OpenAPI) but keeps /ws", async () => {
    await using prod = await serve(EchoEnvironment, { port: 0, openenv: { mode: "production" } });
    expect((await post(prod, "/reset", undefined)).status).toBe(404);
    expect((await post(prod, "/step", '{"action":{}}')).status).toBe(404);
    expect((await get(prod, "/state")).status).toBe(404);
    const paths = Object.keys((json((await get(prod, "/openapi.json")).text) as { paths: object }).paths);
    expect(paths).not.toContain("/reset");
    const ws = await RawWs.open(wsUrl(prod));
    expect(json(await ws.ask({ type: "reset" })).type).toBe("observation");
    ws.close();
  });

  it("a body larger than maxMessageBytes is refused with 413", async () => {
    await using small = await serve(EchoEnvironment, { port: 0, maxMessageBytes: 1024 });
    const r = await post(small, "/step", JSON.stringify({ action: { message: "x".repeat(2000) } }));
    expect(r.status).toBe(413);
    expect(json(r.text).code).toBe("resource_exhausted");
  });

  it("serve({ openenv: false }) mounts no OpenEnv route", async () => {
    await using bare = await serve(EchoEnvironment, { port: 0, openenv: false });
    expect((await get(bare, "/health")).status).toBe(404);
    await expect(RawWs.open(wsUrl(bare))).rejects.toThrow(/404/);
  });
});

describe("stateful HTTP (OpenEnv-Session-Id)", () => {
  it("binds /step and /state to the session /reset opened, and returns its id in header and body", async () => {
    const reset = await post(echo, "/reset", '{"episode_id":"http-ep"}', { "openenv-session-id": "new" });
    expect(reset.status).toBe(200);
    const id = reset.headers.get("openenv-session-id") as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(json(reset.text).session_id).toBe(id);
    for (const step of [1, 2, 3]) {
      const r = json((await post(echo, "/step", '{"action":{"message":"abc"}}', { "openenv-session-id": id })).text);
      expect(r.metadata).toEqual({ original_message: "abc", step });
    }
    const state = json((await get(echo, "/state", { "openenv-session-id": id })).text);
    expect(state).toEqual({ episode_id: "http-ep", step_count: 3, total_characters: 9 });
    expect(echo.router.sessions.find(id)).toBeDefined();
    const closed = json(
      (await post(echo, "/mcp", JSON.stringify({ jsonrpc: "2.0", method: "openenv/session/close", params: { session_id: id }, id: 7 })))
        .text,
    );
    expect(closed).toEqual({ jsonrpc: "2.0", id: 7, result: { session_id: id, closed: true } });
    const gone = await post(echo, "/step", '{"action":{"message":"abc"}}', { "openenv-session-id": id });
    expect(gone.status).toBe(404);
    expect(json(gone.text).code).toBe("not_found");
  });

  it("uses a session created with openenv/session/create, stepping it without a reset first", async () => {
    const created = json((await post(echo, "/mcp", '{"jsonrpc":"2.0","method":"openenv/session/create","id":1}')).text);
    const id = (created.result as { session_id: string }).session_id;
    const r = json((await post(echo, "/step", '{"action":{"message":"x"}}', { "openenv-session-id": id })).text);
    expect(r.metadata).toEqual({ original_message: "x", step: 1 });
    await echo.router.sessions.close(id);
  });

  it("applies the same capacity and idle limits as every transport", async () => {
    await using limited = await serve(EchoEnvironment, { port: 0, maxSessions: 1, idleTimeoutMs: 2_000 });
    const first = await post(limited, "/reset", undefined, { "openenv-session-id": "new" });
    const id = first.headers.get("openenv-session-id") as string;
    const full = await post(limited, "/reset", undefined, { "openenv-session-id": "new" });
    expect(full.status).toBe(503);
    expect(json(full.text)).toEqual({
      detail: "Server at capacity: 1/1 sessions active. Cannot accept new connections.",
      code: "resource_exhausted",
      active_sessions: 1,
      max_sessions: 1,
    });
    // Stateless calls need a slot too while they run.
    expect((await post(limited, "/reset", undefined)).status).toBe(503);
    await waitFor(() => limited.router.sessions.find(id) === undefined);
    expect((await get(limited, "/state", { "openenv-session-id": id })).status).toBe(404);
    expect((await post(limited, "/reset", undefined)).status).toBe(200);
  });
});

describe("POST /mcp (JSON-RPC, always HTTP 200)", () => {
  const rpc = async (body: string) => {
    const r = await post(echo, "/mcp", body);
    expect(r.status).toBe(200);
    return json(r.text);
  };

  it("answers a validator's empty object with a JSON-RPC error", async () => {
    const r = await rpc("{}");
    expect(r.jsonrpc).toBe("2.0");
    expect(r.id).toBeNull();
    expect((r.error as { code: number }).code).toBe(-32600);
  });

  it("answers tools/list and tools/call as OpenEnv does for a non-MCP environment", async () => {
    for (const method of ["tools/list", "tools/call"]) {
      expect(await rpc(JSON.stringify({ jsonrpc: "2.0", method, params: { name: "echo_message", arguments: {} }, id: 1 }))).toEqual({
        jsonrpc: "2.0",
        id: 1,
        error: { code: -32603, message: "Environment does not support MCP", data: null },
      });
    }
  });

  it("parse errors, unknown methods and bad session ids get OpenEnv's codes and texts", async () => {
    expect(await rpc("{bad")).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error", data: null } });
    expect(await rpc('{"jsonrpc":"2.0","method":"nope","id":"a"}')).toEqual({
      jsonrpc: "2.0",
      id: "a",
      error: { code: -32601, message: "Method not found: nope", data: null },
    });
    expect(await rpc('{"jsonrpc":"2.0","method":"openenv/session/close","id":2}')).toEqual({
      jsonrpc: "2.0",
      id: 2,
      error: { code: -32602, message: "Invalid params - 'session_id' is required", data: null },
    });
    expect(await rpc('{"jsonrpc":"2.0","method":"openenv/session/close","params":{"session_id":"zzz"},"id":3}')).toEqual({
      jsonrpc: "2.0",
      id: 3,
      error: { code: -32602, message: "Unknown session_id: zzz", data: null },
    });
    expect(await rpc('{"jsonrpc":"2.0","method":"tools/list","params":{"session_id":"zzz"},"id":4}')).toEqual({
      jsonrpc: "2.0",
      id: 4,
      error: { code: -32602, message: "Unknown session_id: zzz", data: null },
    });
  });

  it("refuses to close a session a WebSocket holds", async () => {
    const ws = await RawWs.open(wsUrl(echo));
    const created = json(await ws.ask({ type: "mcp", data: { jsonrpc: "2.0", method: "openenv/session/create", id: 1 } }));
    const id = ((created.data as { result: { session_id: string } }).result as { session_id: string }).session_id;
    expect(echo.router.sessions.find(id)).toBeDefined();
    expect(await rpc(JSON.stringify({ jsonrpc: "2.0", method: "openenv/session/close", params: { session_id: id }, id: 5 }))).toEqual({
      jsonrpc: "2.0",
      id: 5,
      error: { code: -32600, message: "Cannot close active WebSocket-managed session via MCP method", data: null },
    });
    ws.close();
    await ws.closed;
  });

  it("capacity on openenv/session/create: −32000 with the counts", async () => {
    await using one = await serve(EchoEnvironment, { port: 0, maxSessions: 1 });
    const body = '{"jsonrpc":"2.0","method":"openenv/session/create","id":1}';
    json((await post(one, "/mcp", body)).text);
    expect(json((await post(one, "/mcp", body)).text)).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: {
        code: -32000,
        message: "Server at capacity: 1/1 sessions active. Cannot accept new connections.",
        data: { active_sessions: 1, max_sessions: 1 },
      },
    });
  });
});

describe("WebSocket /ws (recorded frames)", () => {
  it("happy path: reset, reset with kwargs, step, state, close (server closes 1000)", async () => {
    const ws = await RawWs.open(wsUrl(echo));
    for (const frame of [
      { type: "reset", data: {} },
      { type: "reset", data: { seed: 42, episode_id: "ep-1" } },
    ]) {
      const text = await ws.ask(frame);
      const reply = json(text) as { type: string; data: Record<string, unknown> };
      expect(reply.type).toBe("observation");
      expect(Object.keys(reply.data)).toEqual([...Object.keys((json(recorded.ws.resetReply) as { data: object }).data), "metadata"]);
      expect(text).toContain('"reward":0.0,"done":false');
    }
    for (const message of ["hi", "hello", "héllo"]) {
      const step = json(await ws.ask({ type: "step", data: { message } }));
      expect(step).toEqual({
        type: "observation",
        data: {
          observation: { echoed_message: message, message_length: [...message].length },
          reward: [...message].length * 0.1,
          done: false,
          metadata: expect.any(Object),
        },
      });
    }
    const state = json(await ws.ask({ type: "state" }));
    expect(Object.keys(state)).toEqual(["type", "data"]);
    expect(state).toEqual({ type: "state", data: { ...(json(recorded.ws.stateReply).data as object), total_characters: 12 } });
    ws.send({ type: "close" });
    expect(await ws.closed).toEqual({ code: 1000, reason: "" });
    await waitFor(() => echo.router.sessions.active === 0);
  });

  it("lenient shapes: reset without data or with extra kwargs (forwarded as options), state with data refused", async () => {
    const ws = await RawWs.open(wsUrl(validated));
    expect(json(await ws.ask({ type: "reset" })).type).toBe("observation");
    const withKwargs = json(await ws.ask({ type: "reset", data: { unknown_kw: 1, seed: 9 } })) as { data: { metadata: unknown } };
    expect(withKwargs.data.metadata).toEqual({ options: { unknown_kw: 1 }, seed: "9" });
    expect(await ws.ask({ type: "state", data: {} })).toBe(recorded.ws.stateWithData);
    ws.close();
  });

  it("every keep-open error code, with the recorded texts; the session survives them", async () => {
    const ws = await RawWs.open(wsUrl(echo));
    const recordedStep = json(recorded.ws.stepInvalidAction) as { data: { errors: object[] } };
    const extra = json(await ws.ask({ type: "step", data: { bogus: "hi" } }));
    expect(extra).toEqual({
      ...recordedStep,
      data: { ...recordedStep.data, errors: [{ ...recordedStep.data.errors[1], loc: ["bogus"] }] },
    });
    expect(await ws.ask({ type: "step" })).toBe(recorded.ws.stepWithoutData);
    expect(await ws.ask({ type: "bogus" })).toBe(recorded.ws.unknownType);
    expect(await ws.ask({ data: {} })).toBe(recorded.ws.missingType);
    expect(await ws.ask("{not json")).toBe(recorded.ws.invalidJson);
    expect(await ws.ask({ type: "reset", data: [1] })).toBe(recorded.ws.resetDataList);
    expect(await ws.ask({ type: "mcp", data: { method: "tools/list" } })).toBe(recorded.ws.mcpInvalidRequest);
    expect(json(await ws.ask({ type: "mcp", data: { jsonrpc: "2.0", method: "tools/list", id: 1 } }))).toEqual({
      type: "mcp",
      data: { jsonrpc: "2.0", id: 1, error: { code: -32603, message: "Environment does not support MCP", data: null } },
    });
    // Deliberate difference: a reset kwarg our environments take is validated, not passed on as a string.
    expect(json(await ws.ask({ type: "reset", data: { seed: "abc" } }))).toEqual({
      type: "error",
      data: {
        message: "Invalid message",
        code: "VALIDATION_ERROR",
        errors: [
          {
            type: "int_parsing",
            loc: ["data", "seed"],
            msg: "Input should be a valid integer, unable to parse string as an integer",
            input: "abc",
            url: "https://errors.pydantic.dev/2.14/v/int_parsing",
          },
        ],
      },
    });
    expect(json(await ws.ask({ type: "step", data: { message: "still here" } })).type).toBe("observation");
    ws.close();
  });

  it("EXECUTION_ERROR for an environment failure keeps the socket open", async () => {
    const ws = await RawWs.open(wsUrl(scripted));
    await ws.ask({ type: "reset" });
    expect(json(await ws.ask({ type: "step", data: { message: "throw:kaputt" } }))).toEqual({
      type: "error",
      data: { message: "kaputt", code: "EXECUTION_ERROR" },
    });
    expect(json(await ws.ask({ type: "state" })).type).toBe("state");
    ws.close();
  });

  it.each([
    ["non-object JSON (a list)", "[1, 2]"],
    ["non-object JSON (a string)", '"reset"'],
    ["non-object JSON (null)", "null"],
    ["a binary frame", Buffer.from('{"type": "state"}')],
  ])("%s: one SESSION_ERROR frame, then close 1000; later frames are not answered", async (_label, frame) => {
    const ws = await RawWs.open(wsUrl(echo));
    await waitFor(() => echo.router.sessions.active >= 1);
    const reply = json(await ws.ask(frame)) as { type: string; data: Record<string, unknown> };
    expect(shapeOf(reply)).toEqual(shapeOf(json(recorded.ws.binaryFrame)));
    expect(reply.data.code).toBe("SESSION_ERROR");
    expect(String(reply.data.message)).toMatch(/binary|JSON object/);
    ws.send({ type: "state" });
    expect(await ws.closed).toEqual({ code: 1000, reason: "" });
    expect(ws.unread).toBe(0);
    await waitFor(() => echo.router.sessions.active === 0);
  });

  it("CAPACITY_REACHED: the recorded frame (with this server's counts), then close 1000", async () => {
    await using two = await serve(EchoEnvironment, { port: 0, maxSessions: 2 });
    const held = [await RawWs.open(wsUrl(two)), await RawWs.open(wsUrl(two))];
    await waitFor(() => two.router.sessions.active === 2);
    const third = await RawWs.open(wsUrl(two));
    expect(await third.next()).toBe(recorded.ws.capacity.replaceAll("16", "2"));
    expect(await third.closed).toEqual({ code: 1000, reason: "" });
    for (const ws of held) expect(json(await ws.ask({ type: "reset" })).type).toBe("observation");
    held[0]?.close();
    await waitFor(() => two.router.sessions.active === 1);
    const fourth = await RawWs.open(wsUrl(two));
    expect(json(await fourth.ask({ type: "reset" })).type).toBe("observation");
  });

  it("FACTORY_ERROR when the environment cannot be created, then close 1000", async () => {
    const failing: EnvironmentFactory = {
      spec: EchoEnvironment.spec,
      create() {
        throw new Error("no GPU");
      },
    };
    await using server = await serve(failing, { port: 0 });
    const ws = await RawWs.open(wsUrl(server));
    expect(json(await ws.next())).toEqual({
      type: "error",
      data: { message: "Environment factory 'echo' failed to create instance.", code: "FACTORY_ERROR", factory_name: "echo" },
    });
    expect((await ws.closed).code).toBe(1000);
  });

  it("answers frames sent far ahead in order, one reply each (reading pauses, nothing is dropped)", async () => {
    const ws = await RawWs.open(wsUrl(echo));
    ws.send({ type: "reset" });
    for (let i = 0; i < 300; i++) ws.send({ type: "step", data: { message: `m${i}` } });
    expect(json(await ws.next()).type).toBe("observation");
    for (let i = 0; i < 300; i++) {
      const reply = json(await ws.next()) as { data: { observation: { echoed_message: string }; metadata: { step: number } } };
      expect([reply.data.observation.echoed_message, reply.data.metadata.step]).toEqual([`m${i}`, i + 1]);
    }
    ws.close();
  });

  it("answers WebSocket pings", async () => {
    const ws = await RawWs.open(wsUrl(echo));
    const pong = new Promise<Buffer>((resolve) => ws.ws.once("pong", resolve));
    ws.ws.ping(Buffer.from("keepalive"));
    expect((await pong).toString()).toBe("keepalive");
    ws.close();
  });

  it("accepts a frame just under 100 MiB (the Python client's limit) and refuses a larger one with 1009", async () => {
    const ws = await RawWs.open(wsUrl(validated));
    const size = 100 * 1024 * 1024 - 1024;
    const prefix = '{"type":"reset","data":{"blob":"';
    const frame = `${prefix}${"x".repeat(size - prefix.length - 3)}"}}`;
    expect(Buffer.byteLength(frame)).toBe(size);
    const reply = json(await ws.ask(frame)) as { type: string; data: { metadata: { options: { blob: string } } } };
    expect(reply.type).toBe("observation");
    expect(reply.data.metadata.options.blob.length).toBe(size - prefix.length - 3);
    ws.close();
    await using small = await serve(EchoEnvironment, { port: 0, maxMessageBytes: 64 * 1024 });
    const tiny = await RawWs.open(wsUrl(small));
    tiny.send({ type: "step", data: { message: "x".repeat(65 * 1024) } });
    expect((await tiny.closed).code).toBe(1009);
    await waitFor(() => small.router.sessions.active === 0);
  }, 120_000);

  it("a validation error does not echo a huge input back in full", async () => {
    const ws = await RawWs.open(wsUrl(echo));
    const reply = json(await ws.ask({ type: "step", data: { message: "y".repeat(2 * 1024 * 1024) } })) as {
      data: { errors: { type: string; input: string; ctx: object }[] };
    };
    expect(reply.data.errors[0]?.type).toBe("string_too_long");
    expect(reply.data.errors[0]?.ctx).toEqual({ max_length: 1048576 });
    expect(reply.data.errors[0]?.input.length).toBeLessThan(5000);
    ws.close();
  });

  it("an idle session is reaped and its socket closed with 1001 and the reason", async () => {
    await using idle = await serve(EchoEnvironment, { port: 0, idleTimeoutMs: 300 });
    const ws = await RawWs.open(wsUrl(idle));
    const closed = await ws.closed;
    expect(closed.code).toBe(1001);
    expect(closed.reason).toMatch(/idle/);
    expect(idle.router.sessions.active).toBe(0);
  });

  it("server shutdown closes open sockets with 1001", async () => {
    const server = await serve(EchoEnvironment, { port: 0 });
    const ws = await RawWs.open(wsUrl(server));
    await ws.ask({ type: "reset" });
    await server.close();
    expect(await ws.closed).toEqual({ code: 1001, reason: "server shutting down" });
  });

  it("WS /mcp: JSON-RPC frames on a session of its own", async () => {
    const ws = await RawWs.open(wsUrl(echo, "/mcp"));
    const created = json(await ws.ask({ jsonrpc: "2.0", method: "openenv/session/create", id: 1 }));
    expect((created.result as { session_id: string }).session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(json(await ws.ask("{oops")).error).toMatchObject({ code: -32700 });
    expect(json(await ws.ask({ jsonrpc: "2.0", method: "tools/list", id: 2 })).error).toMatchObject({ code: -32603 });
    ws.close();
  });

  it("with ?extensions=1 the payload also carries terminated, truncated, step_count, episode_id, reward_components, session_id", async () => {
    const ws = await RawWs.open(`${wsUrl(validated)}?extensions=1`);
    await ws.ask({ type: "reset", data: { episode_id: "ext" } });
    const r = json(await ws.ask({ type: "step", data: { name: "done", count: 2 } })) as { data: Record<string, unknown> };
    expect(r.data).toMatchObject({
      done: true,
      terminated: true,
      truncated: false,
      step_count: 1,
      episode_id: "ext",
      reward_components: {},
    });
    expect(r.data.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const err = json(await ws.ask({ type: "step", data: { name: "more", count: 1 } })) as { data: Record<string, unknown> };
    expect(err.data).toMatchObject({ code: "EXECUTION_ERROR", status: "failed_precondition" });
    ws.close();
  });
});

describe("JSON mapping from the proto", () => {
  it("snake_case names, 64-bit integers as numbers when exact, enums by name, unset messages as null", async () => {
    const r = json(
      (
        await post(
          validated,
          "/step",
          JSON.stringify({
            action: {
              name: "abc",
              count: 3,
              color: 2,
              big: "9007199254740993",
              blob: "AAE=",
              scores: { a: "4" },
              first: { column: 1 },
              targetIndex: 5,
            },
          }),
        )
      ).text,
    ) as { observation: Record<string, unknown>; reward: number };
    expect(r.reward).toBe(3);
    expect(r.observation).toMatchObject({ huge: "18446744073709551615", small: -5, color: "COLOR_GREEN", missing: null });
    expect(r.observation.action).toMatchObject({
      name: "abc",
      count: 3,
      color: "COLOR_GREEN",
      big: "9007199254740993",
      blob: "AAE=",
      scores: { a: 4 },
      first: { column: 1, label: "" },
      note: null,
      target_index: 5,
      target_name: null,
      extra: null,
    });
    const state = json((await get(validated, "/state")).text);
    expect(state).toEqual({ episode_id: "", step_count: 0, total: 0 });
  });
});

describe("validation from the proto's field rules, identical on every transport", () => {
  const bad = { name: "a", count: 11, mode: "turbo", code: "abcd", moves: [{ column: 7 }, {}, {}, {}], weight: 2 };
  const ruleErrors = [
    ["name", "string_too_short"],
    ["count", "less_than_equal"],
    ["mode", "literal_error"],
    ["code", "string_pattern_mismatch"],
    ["moves", "too_long"],
    ["moves[0].column", "less_than_equal"],
    ["weight", "less_than_equal"],
  ];

  it("HTTP: one 422 listing every violation in field order, Pydantic's types, messages and ctx", async () => {
    const r = await post(validated, "/step", JSON.stringify({ action: bad }));
    expect(r.status).toBe(422);
    const detail = json(r.text).detail as { type: string; loc: (string | number)[]; msg: string; ctx: object }[];
    expect(
      detail.map((d) => [
        d.loc
          .map((p) => (typeof p === "number" ? `[${p}]` : p))
          .join(".")
          .replace(".[", "["),
        d.type,
      ]),
    ).toEqual(ruleErrors);
    expect(detail[0]).toMatchObject({ msg: "String should have at least 2 characters", ctx: { min_length: 2 } });
    expect(detail[2]).toMatchObject({ msg: "Input should be '', 'fast' or 'slow'", ctx: { expected: "'', 'fast' or 'slow'" } });
    expect(detail[3]).toMatchObject({ msg: "String should match pattern '^([A-Z]{3})?$'" });
    expect(detail[4]).toMatchObject({ msg: "List should have at most 3 items after validation, not 4" });
    expect(detail[6]).toMatchObject({ msg: "Input should be less than or equal to 1.5", ctx: { le: 1.5 } });
  });

  it("WebSocket: VALIDATION_ERROR with the same errors", async () => {
    const ws = await RawWs.open(wsUrl(validated));
    const reply = json(await ws.ask({ type: "step", data: bad })) as { data: { code: string; errors: { loc: unknown[]; type: string }[] } };
    expect(reply.data.code).toBe("VALIDATION_ERROR");
    const http = json((await post(validated, "/step", JSON.stringify({ action: bad }))).text).detail as object[];
    expect(reply.data.errors).toEqual(http);
    ws.close();
  });

  it("Connect: INVALID_ARGUMENT with a ValidationErrors detail naming the same fields", async () => {
    await using env = await EnvClient.connect({ baseUrl: validated.url, spec: validatedSpec, transport: "connect" });
    await env.reset();
    const err = await env.step(create(ValidatedActionSchema, bad)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    const [details] = (err as ConnectError).findDetails(ValidationErrorsSchema);
    expect(details?.violations.map((v) => v.field)).toEqual(ruleErrors.map(([f]) => f));
  });

  it("wrong JSON types, unknown fields and required fields over HTTP and WebSocket", async () => {
    const action = { count: "x", color: "BLUE", flag: "yes", moves: {}, scores: { a: 1.5 }, nope: 1, target_name: "a", targetIndex: 1 };
    const detail = json((await post(validated, "/step", JSON.stringify({ action }))).text).detail as {
      type: string;
      loc: unknown[];
      input: unknown;
    }[];
    expect(detail.map((d) => [d.loc, d.type])).toEqual([
      [["name"], "missing"],
      [["count"], "int_parsing"],
      [["moves"], "list_type"],
      [["color"], "enum"],
      [["flag"], "bool_type"],
      [["scores", "a"], "int_from_float"],
      [["target_index"], "value_error"],
      [["nope"], "extra_forbidden"],
    ]);
    expect(detail[0]?.input).toEqual(action);
    const ws = await RawWs.open(wsUrl(validated));
    const reply = json(await ws.ask({ type: "step", data: action })) as { data: { errors: object[] } };
    expect(reply.data.errors).toEqual(detail);
    ws.close();
  });
});
