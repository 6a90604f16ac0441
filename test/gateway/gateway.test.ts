import { execFile, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { create, equals, fromBinary, getExtension, hasExtension, type JsonObject, type Message, toBinary } from "@bufbuild/protobuf";
import { FieldOptionsSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { field as protovalidateField } from "../../gen/buf/validate/validate_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { CapacityInfoSchema, ValidationErrorsSchema } from "../../gen/openenv/v1/environment_service_pb.js";
import { run } from "../../src/cli/main.js";
import { EnvClient } from "../../src/client/env-client.js";
import { createTransport } from "../../src/client/transports.js";
import { MazeEnvironment } from "../../src/envs/maze/environment.js";
import { type GatewayServer, serveGateway } from "../../src/gateway/index.js";
import { serve } from "../../src/server/serve.js";
import { type Fixture, fixtures } from "./fixtures.js";
import { PYTHON, type Standin, skipStandin, startStandin } from "./standin.js";

// The gateway in front of a Python OpenEnv server (the stand-in: asyncio + websockets, OpenEnv's
// frames, errors and capacity rule), driven by clients with no generated code for it.

const exec = promisify(execFile);
const repo = join(import.meta.dirname, "..", "..");
const buf = join(repo, "node_modules", ".bin", "buf");

let standin: Standin;
const gateways: GatewayServer[] = [];

async function gateway(path: string, options: Parameters<typeof serveGateway>[1] = {}): Promise<GatewayServer> {
  const gw = await serveGateway(`${standin.url}${path}`, { port: 0, ...options });
  gateways.push(gw);
  return gw;
}

beforeAll(async () => {
  if (skipStandin) return;
  standin = await startStandin();
}, 60_000);
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await standin?.kill();
});

describe.skipIf(skipStandin)("gateway in front of a Python OpenEnv server", () => {
  it("serves typed rollouts learned from Describe, with the upstream's metadata", async () => {
    const gw = await gateway("/envs/echo");
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    expect(env.info?.actionType).toBe("openenv.upstream.echo.v1.EchoAction");
    expect(env.info?.metadata?.name).toBe("EchoEnvironment");
    const first = await env.reset({ seed: 1, episodeId: "ep-1" });
    expect(first.observation).toMatchObject({
      $typeName: "openenv.upstream.echo.v1.EchoObservation",
      echoedMessage: "Echo environment ready!",
    });
    expect(first.episodeId).toBe("ep-1");
    for (const [i, message] of ["hi", "héllo ✓"].entries()) {
      const r = await env.step({ message } as never);
      expect(r.observation).toMatchObject({ echoedMessage: message, messageLength: BigInt([...message].length) });
      expect(r.reward).toBeCloseTo(0.1 * message.length);
      expect(r.metadata).toEqual({ original_message: message, step: i + 1 });
      expect(r.stepCount).toBe(i + 1);
    }
    const state = (await env.state()) as unknown as { episodeId: string; stepCount: bigint };
    expect(state.episodeId).toBe("ep-1"); // the episode id reached the upstream as reset's episode_id
    expect(state.stepCount).toBe(2n);
  });

  it("answers health checks, reflection and buf curl with the generated descriptors", async () => {
    const gw = await gateway("/envs/maze", { healthIntervalMs: 100 });
    const { client, transport } = (() => {
      const t = createTransport({ kind: "grpc", baseUrl: gw.url });
      return { client: createClient(Health, t.transport), transport: t };
    })();
    expect((await client.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    transport.close();
    expect(await (await fetch(`${gw.url}/health`)).json()).toMatchObject({ status: "healthy" });
    // buf curl has no generated code: it learns the Any's type from the gateway's reflection.
    const { stdout } = await exec(
      buf,
      ["curl", "--http2-prior-knowledge", "--protocol", "grpc", "--data", "{}", `${gw.url}/openenv.v1.EnvironmentService/Reset`],
      {
        timeout: 60_000,
      },
    );
    const reset = JSON.parse(stdout) as { sessionId: string; result: { observation: JsonObject } };
    expect(reset.result.observation).toEqual({
      "@type": "type.googleapis.com/openenv.upstream.maze.v1.MazeObservation",
      legalActions: ["1", "3"],
      currentPosition: ["0", "0"],
      previousPosition: ["0", "0"],
    });
    await exec(
      buf,
      ["curl", "--data", JSON.stringify({ session_id: reset.sessionId }), `${gw.url}/openenv.v1.EnvironmentService/CloseSession`],
      {
        timeout: 60_000,
      },
    );
  });

  it("maps upstream errors to typed codes and keeps the session usable", async () => {
    const gw = await gateway("/envs/echo");
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    await env.reset();
    const err = await failure(env.step({ message: "raise:the env broke" } as never));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.rawMessage).toBe("the env broke"); // OpenEnv's EXECUTION_ERROR, its message kept
    expect((await env.step({ message: "still here" } as never)).observation).toMatchObject({ echoedMessage: "still here" });
  });

  it("turns an upstream VALIDATION_ERROR into INVALID_ARGUMENT with the field violations", async () => {
    const features = fixtures.find((f) => f.name === "schema_features") as Fixture;
    const gw = await gateway("/envs/schema_features");
    const types = gw.upstream.types;
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    await env.reset();
    // `shape` is required upstream; a proto client can leave a oneof unset.
    const action = types.action.decode(features.samples.action[0]) as Message & { shape: { case: string | undefined } };
    action.shape = { case: undefined } as never;
    const err = await failure(env.step(action as never));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ValidationErrorsSchema)[0]?.violations.map((v) => [v.field, v.rule])).toEqual([["shape", "missing"]]);
  });

  it("checks the schema's field rules before the upstream sees the action", async () => {
    const gw = await gateway("/envs/connect4_env");
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    await env.reset();
    // The rule the gateway enforces is the protovalidate annotation `openenv proto` writes.
    const column = gw.upstream.types.action.schema.fields.find((f) => f.name === "column");
    const options = column?.proto.options ?? create(FieldOptionsSchema);
    expect(hasExtension(options, protovalidateField)).toBe(true);
    expect(getExtension(options, protovalidateField).type).toMatchObject({ case: "int32", value: { lessThan: { case: "lte", value: 6 } } });
    const err = await failure(env.step({ column: 9 } as never));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(ValidationErrorsSchema)[0]?.violations[0]).toMatchObject({ field: "column", rule: "lte" });
    await expect(env.step({ column: 3 } as never)).resolves.toBeDefined();
  });

  it("checks a protovalidate string.pattern from the schema (RE2-compatible) the same way", async () => {
    const gw = await gateway("/envs/chess_env");
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    await env.reset();
    const err = await failure(env.step({ move: "e2e9" } as never));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toContain("move");
    expect(err.findDetails(ValidationErrorsSchema)[0]?.violations.map((v) => [v.field, v.rule])).toEqual([["move", "pattern"]]);
  });

  it("keeps the upstream's capacity visible: RESOURCE_EXHAUSTED with CapacityInfo", async () => {
    await using small = await startStandin({ maxSessions: 2 });
    const gw = await serveGateway(`${small.url}/envs/coding_env`, { port: 0 });
    gateways.push(gw);
    const envs = await Promise.all([0, 1].map(() => EnvClient.connect({ baseUrl: gw.url })));
    for (const e of envs) await e.reset();
    const third = await EnvClient.connect({ baseUrl: gw.url });
    const err = await failure(third.reset());
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe("Server at capacity: 2/2 sessions active. Cannot accept new connections.");
    expect(err.findDetails(CapacityInfoSchema)[0]).toMatchObject({ activeSessions: 2, maxSessions: 2 });
    await envs[0]?.close();
    // The freed upstream slot is taken by the next reset on the same stream.
    const again = await retry(() => third.reset());
    expect(again.observation).toMatchObject({ stdout: "" });
    await Promise.all([third.close(), envs[1]?.close()]);
  });

  it("a dropped upstream connection mid-episode is a clear error, never a wrong reply; a reset recovers", async () => {
    const gw = await gateway("/envs/echo");
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    await env.reset();
    expect((await env.step({ message: "one" } as never)).stepCount).toBe(1);
    const dropped = await failure(env.step({ message: "drop" } as never));
    expect(dropped).toBeInstanceOf(ConnectError);
    expect(dropped.code).toBe(Code.Aborted);
    expect(dropped.rawMessage).toMatch(/upstream connection was lost during this step .*whether the upstream applied it is unknown/);
    const next = await failure(env.step({ message: "two" } as never));
    expect(next.code).toBe(Code.FailedPrecondition);
    expect(next.rawMessage).toContain("reset to start a new episode");
    const state = await failure(env.state());
    expect((state as ConnectError).code).toBe(Code.FailedPrecondition);
    // A new episode gets a new upstream session.
    const fresh = await env.reset({ episodeId: "after" });
    expect(fresh.observation).toMatchObject({ echoedMessage: "Echo environment ready!" });
    const r = await env.step({ message: "three" } as never);
    expect(r.observation).toMatchObject({ echoedMessage: "three" });
    expect(r.stepCount).toBe(1);
  });

  it("a step cut short by its deadline ends the episode instead of answering the next request late", async () => {
    const gw = await gateway("/envs/echo");
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    await env.reset();
    const slow = await failure(env.step({ message: "sleep:1500" } as never, { timeoutMs: 200 }));
    expect(slow.code).toBe(Code.DeadlineExceeded);
    const next = await failure(env.step({ message: "next" } as never));
    expect(next.code).toBe(Code.FailedPrecondition);
    expect(next.rawMessage).toContain("cut short");
    await env.reset();
    expect((await env.step({ message: "fine" } as never)).observation).toMatchObject({ echoedMessage: "fine" });
  });
});

describe.skipIf(skipStandin)("other clients and the CLI", () => {
  const pythonGrpc = spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"]).status === 0;

  // CI installs grpcio (.ci/run); elsewhere its absence skips.
  it.skipIf(!pythonGrpc && process.env.CI === undefined)(
    "the Python SDK drives the Python environment through the gateway, with classes built from Describe",
    async () => {
      const gw = await gateway("/envs/echo");
      const script = [
        "import json, sys",
        `sys.path.insert(0, ${JSON.stringify(join(repo, "clients", "python"))})`,
        "import openenv_connect as oc",
        "with oc.EnvClient(sys.argv[1]) as env:",
        "    env.reset(episode_id='py-1')",
        "    r = env.step(message='hi from python')",
        "    s = env.state()",
        "    print(json.dumps({'type': r.observation.DESCRIPTOR.full_name, 'echoed': r.observation.echoed_message,",
        "        'length': r.observation.message_length, 'step': r.step_count, 'episode': s.episode_id}))",
      ].join("\n");
      const { stdout } = await exec(PYTHON, ["-c", script, gw.url], { timeout: 60_000 });
      expect(JSON.parse(stdout)).toEqual({
        type: "openenv.upstream.echo.v1.EchoObservation",
        echoed: "hi from python",
        length: 14,
        step: 1,
        episode: "py-1",
      });
    },
    90_000,
  );

  it("openenv proto --url reads /schema and /metadata of the running server", async () => {
    let out = "";
    const code = await run(["proto", "--url", `${standin.url}/envs/maze`], { out: (t) => (out += t), err: () => {} });
    expect(code).toBe(0);
    expect(out).toContain("package openenv.upstream.maze.v1;");
    expect(out).toContain(`from ${standin.url}/envs/maze/schema`);
    expect(out).toContain("repeated int64 legal_actions = 1;");
  });

  it("openenv gateway serves until SIGTERM and announces itself as JSON", async () => {
    const child = spawn(
      process.execPath,
      [join(repo, "bin", "openenv.js"), "gateway", `${standin.url}/envs/echo`, "--port", "0", "--json"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const event = await new Promise<Record<string, string>>((resolve, reject) => {
        let text = "";
        child.stdout.on("data", (d: Buffer) => {
          text += d.toString();
          if (text.includes("\n")) resolve(JSON.parse(text.split("\n")[0] as string) as Record<string, string>);
        });
        child.once("exit", (c) => reject(new Error(`openenv gateway exited with ${c}`)));
      });
      expect(event).toMatchObject({ event: "listening", env: "EchoEnvironment", action: "openenv.upstream.echo.v1.EchoAction" });
      const describe = await fetch(`${event.url}/openenv.v1.EnvironmentService/Describe?connect=v1&encoding=json&message=%7B%7D`);
      expect(((await describe.json()) as { observationType: string }).observationType).toBe("openenv.upstream.echo.v1.EchoObservation");
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }, 120_000);
});

describe.skipIf(skipStandin)("every fixture environment through the gateway: the upstream's JSON round-trips", () => {
  it.each(fixtures.map((f) => [f.name, f] as const))("%s", async (_name, f) => {
    const gw = await gateway(`/envs/${f.name}`);
    const types = gw.upstream.types;
    await using env = await EnvClient.connect({ baseUrl: gw.url, transport: "grpc" });
    const delivered = (m: Message, codec: typeof types.observation) =>
      codec.encode(fromBinary(codec.schema, toBinary(codec.schema, m)), "response");
    const first = await env.reset();
    expect(delivered(first.observation as Message, types.observation)).toStrictEqual(f.samples.observation[0]);
    for (const [i, sample] of f.samples.action.entries()) {
      const r = await env.step(types.action.decode(sample) as never);
      const observations = f.samples.observation;
      expect(delivered(r.observation as Message, types.observation)).toStrictEqual(observations[(i + 1) % observations.length]);
      // What the Python server received is the sample action (unset fields left to Pydantic's defaults).
      const received = (r.metadata as { action: JsonObject }).action;
      expect(equals(types.action.schema, types.action.decode(received), types.action.decode(sample))).toBe(true);
    }
    expect(delivered((await env.state()) as Message, types.state)).toStrictEqual(f.samples.state[0]);
  });
});

describe.skipIf(skipStandin)("the upstream goes away", () => {
  it("in-flight and later steps fail clearly, health turns NOT_SERVING, reset says UNAVAILABLE", async () => {
    await using own = await startStandin();
    const gw = await serveGateway(`${own.url}/envs/echo`, { port: 0, healthIntervalMs: 100 });
    gateways.push(gw);
    await using env = await EnvClient.connect({ baseUrl: gw.url });
    await env.reset();
    const pending = failure(env.step({ message: "sleep:5000" } as never));
    await new Promise((r) => setTimeout(r, 100));
    await own.kill();
    expect((await pending).code).toBe(Code.Aborted);
    expect((await failure(env.step({ message: "x" } as never))).code).toBe(Code.FailedPrecondition);
    const t = createTransport({ kind: "grpc", baseUrl: gw.url });
    const health = createClient(Health, t.transport);
    await retry(async () => {
      if ((await health.check({ service: "" })).status !== HealthCheckResponse_ServingStatus.NOT_SERVING) throw new Error("still serving");
    });
    t.close();
    expect((await fetch(`${gw.url}/health`)).status).toBe(503);
    const reset = await failure(env.reset());
    expect(reset.code).toBe(Code.Unavailable);
  });

  it("refuses to start when the upstream cannot be reached", async () => {
    const err = await failure(serveGateway("http://127.0.0.1:9", { port: 0 }));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.Unavailable);
  });
});

/** The error a call fails with (the test fails if it succeeds). */
async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

/** Retries until `fn` succeeds (event-driven waits, bounded). */
async function retry<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe("gateway in front of an openenv-connect server", () => {
  it("reads 64-bit integers the upstream sends as decimal strings (maze's random seed, beyond 2^53)", async () => {
    const upstream = await serve(MazeEnvironment, { port: 0 });
    const gw = await serveGateway(upstream.url, { port: 0 });
    try {
      await using env = await EnvClient.connect({ baseUrl: gw.url });
      // Without a seed the maze draws a random uint64, which OpenEnv JSON carries as a string past 2^53.
      for (let i = 0; i < 8; i++) {
        const first = await env.reset();
        const seed = (first.observation as unknown as { seed: bigint }).seed;
        expect(typeof seed).toBe("bigint");
      }
      const big = await env.reset({ seed: 18446744073709551615n });
      expect((big.observation as unknown as { seed: bigint }).seed).toBe(18446744073709551615n);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
