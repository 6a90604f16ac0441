import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

const run = promisify(execFile);
let server: EnvironmentServer;

beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0 });
});
afterAll(async () => {
  await server.close();
});

/** Encodes EchoAction{message} by hand (field 1, length-delimited): no code shared with the server. */
function encodeEchoAction(message: string): Buffer {
  const bytes = Buffer.from(message, "utf8");
  if (bytes.length > 127) throw new Error("keep test messages short");
  return Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
}

interface StepResponseJs {
  request_id: string;
  session_id: string;
  kind: "result" | "error" | "state" | "partial";
  result?: { reward?: number; step_count: number; observation: { type_url: string; value: Buffer } };
  error?: { code: number; message: string };
}

describe("an independent gRPC implementation (@grpc/grpc-js + proto-loader)", () => {
  const definition = protoLoader.loadSync(["openenv/v1/environment_service.proto", "grpc/health/v1/health.proto"], {
    includeDirs: ["proto"],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  // biome-ignore lint/suspicious/noExplicitAny: grpc-js builds the service constructors at run time
  const pkg = grpc.loadPackageDefinition(definition) as any;

  it("runs a bidi rollout with request ids on one stream", async () => {
    const client = new pkg.openenv.v1.EnvironmentService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const call = client.Step();
    const replies: StepResponseJs[] = [];
    const done = new Promise<void>((resolve, reject) => {
      call.on("data", (r: StepResponseJs) => replies.push(r));
      call.on("end", resolve);
      call.on("error", reject);
    });
    call.write({ request_id: "r0", reset: { seed: "42" } });
    for (let i = 1; i <= 20; i++) {
      call.write({
        request_id: `r${i}`,
        action: { type_url: "type.googleapis.com/openenv.envs.echo.v1.EchoAction", value: encodeEchoAction(`msg ${i}`) },
      });
    }
    call.write({ request_id: "bad", action: { type_url: "type.googleapis.com/nope.Nope", value: Buffer.alloc(0) } });
    call.write({ request_id: "st", state: {} });
    call.end();
    await done;
    client.close();
    expect(replies.map((r) => r.request_id)).toEqual(["r0", ...Array.from({ length: 20 }, (_, i) => `r${i + 1}`), "bad", "st"]);
    const last = replies[20] as StepResponseJs;
    expect(last.kind).toBe("result");
    expect(last.result?.step_count).toBe(20);
    expect(last.result?.reward).toBeCloseTo(0.6);
    // EchoObservation field 1 is the echoed message.
    expect(last.result?.observation.value.subarray(2, 8).toString()).toBe("msg 20");
    expect(replies[21]?.kind).toBe("error");
    expect(replies[21]?.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(replies[22]?.kind).toBe("state");
  });

  it("gets real gRPC status codes on unary calls, and health SERVING", async () => {
    const client = new pkg.openenv.v1.EnvironmentService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.State({ session_id: "missing" }, (e: grpc.ServiceError) => resolve(e)),
    );
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.details).toBe("session 'missing' not found");
    client.close();
    const health = new pkg.grpc.health.v1.Health(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const res = await new Promise<{ status: string }>((resolve, reject) =>
      health.Check({ service: "openenv.v1.EnvironmentService" }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))),
    );
    expect(res.status).toBe("SERVING");
    health.close();
  });
});

describe("buf curl through gRPC server reflection (no protos on the client side)", () => {
  const buf = "node_modules/.bin/buf";

  it.each(["grpc", "connect", "grpcweb"])("calls Describe and Reset over %s", async (protocol) => {
    const base = ["curl", "--http2-prior-knowledge", "--protocol", protocol];
    const describe = await run(buf, [...base, "-d", "{}", `${server.url}/openenv.v1.EnvironmentService/Describe`]);
    const info = JSON.parse(describe.stdout) as { actionType: string; jsonSchemas: { action: { title: string } } };
    expect(info.actionType).toBe("openenv.envs.echo.v1.EchoAction");
    expect(info.jsonSchemas.action.title).toBe("EchoAction");
    const reset = await run(buf, [
      ...base,
      "-d",
      '{"seed": 3, "episodeId": "from-buf"}',
      `${server.url}/openenv.v1.EnvironmentService/Reset`,
    ]);
    const body = JSON.parse(reset.stdout) as { sessionId: string; result: { episodeId: string; observation: Record<string, string> } };
    expect(body.result.episodeId).toBe("from-buf");
    expect(body.result.observation).toEqual({
      "@type": "type.googleapis.com/openenv.envs.echo.v1.EchoObservation",
      echoedMessage: "Echo environment ready!",
    });
    await run(buf, [
      ...base,
      "-d",
      JSON.stringify({ sessionId: body.sessionId }),
      `${server.url}/openenv.v1.EnvironmentService/CloseSession`,
    ]);
  });

  it("lists services through reflection v1 and falls back to v1alpha", async () => {
    for (const reflectProtocol of ["grpc-v1", "grpc-v1alpha"]) {
      const { stdout } = await run(buf, [
        "curl",
        "--http2-prior-knowledge",
        "--reflect-protocol",
        reflectProtocol,
        "--list-methods",
        server.url,
      ]);
      expect(stdout.split("\n")).toEqual(
        expect.arrayContaining([
          "openenv.v1.EnvironmentService/Step",
          "openenv.v1.EnvironmentService/Describe",
          "grpc.health.v1.Health/Check",
        ]),
      );
    }
  });
});
