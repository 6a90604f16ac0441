import { Code, ConnectError } from "@connectrpc/connect";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

const TOKEN = "s3cret-token-value";
let server: EnvironmentServer;
let custom: EnvironmentServer;
let open: EnvironmentServer;

beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0, auth: { tokens: [TOKEN, "second-token"] } });
  custom = await serve(EchoEnvironment, {
    port: 0,
    auth: { check: (token, header) => token === undefined && header("x-api-key") === "k1" },
  });
  open = await serve(EchoEnvironment, { port: 0, cors: { origins: ["https://app.example"] } });
});
afterAll(async () => {
  await Promise.all([server.close(), custom.close(), open.close()]);
});

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConnectError);
  return e as ConnectError;
}

describe("bearer-token authentication", () => {
  it.each(["connect", "connect-json", "grpc", "grpc-web"] as const)(
    "is enforced on unary calls and the Step stream over %s",
    async (transport) => {
      const err = await failure(EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport }));
      expect(err.code).toBe(Code.Unauthenticated);
      expect(err.rawMessage).toBe("missing credentials: send 'Authorization: Bearer <token>'");

      // The Step stream on its own (no Describe first) is refused too.
      const noVerify = new EnvClient({ baseUrl: server.url, spec: echoSpec, transport, verify: false });
      expect((await failure(noVerify.reset())).code).toBe(Code.Unauthenticated);
      await noVerify.close();

      const wrong = await failure(
        EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport, headers: { authorization: "Bearer nope" } }),
      );
      expect(wrong.code).toBe(Code.Unauthenticated);
      expect(wrong.message).not.toContain("nope");

      await using env = await EnvClient.connect({
        baseUrl: server.url,
        spec: echoSpec,
        transport,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      await env.reset();
      expect((await env.step({ message: "authorised" })).observation.echoedMessage).toBe("authorised");
    },
  );

  it("accepts any of several tokens, and a pluggable check", async () => {
    await using a = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, headers: { authorization: "Bearer second-token" } });
    await a.reset();
    await using b = await EnvClient.connect({ baseUrl: custom.url, spec: echoSpec, headers: { "x-api-key": "k1" } });
    await b.reset();
    expect((await failure(EnvClient.connect({ baseUrl: custom.url, spec: echoSpec, headers: { "x-api-key": "k2" } }))).code).toBe(
      Code.Unauthenticated,
    );
  });

  it("leaves gRPC health checks open for load balancers", async () => {
    const def = protoLoader.loadSync("grpc/health/v1/health.proto", { includeDirs: ["proto"], enums: String });
    // biome-ignore lint/suspicious/noExplicitAny: grpc-js builds the service constructors at run time
    const pkg = grpc.loadPackageDefinition(def) as any;
    const health = new pkg.grpc.health.v1.Health(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const res = await new Promise<{ status: string }>((resolve, reject) =>
      health.Check({ service: "" }, (e: Error | null, r: { status: string }) => (e ? reject(e) : resolve(r))),
    );
    expect(res.status).toBe("SERVING");
    health.close();
  });
});

describe("CORS", () => {
  const describeUrl = () => `${open.url}/openenv.v1.EnvironmentService/Describe`;

  it("answers a preflight from an allowed origin", async () => {
    const res = await fetch(describeUrl(), {
      method: "OPTIONS",
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
    expect(res.headers.get("access-control-allow-headers")).toContain("Connect-Protocol-Version");
  });

  it("adds headers to calls from allowed origins only", async () => {
    const call = (origin: string) =>
      fetch(describeUrl(), { method: "POST", headers: { origin, "content-type": "application/json" }, body: "{}" });
    const ok = await call("https://app.example");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(ok.headers.get("access-control-expose-headers")).toContain("Grpc-Status");
    const other = await call("https://evil.example");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("is off by default", async () => {
    const res = await fetch(`${server.url}/openenv.v1.EnvironmentService/Describe`, {
      method: "POST",
      headers: { origin: "https://app.example", "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("binding", () => {
  it("listens on loopback unless told otherwise", () => {
    expect(server.host).toBe("127.0.0.1");
    expect(server.listener.h1).toBeDefined();
  });

  it("listens on all interfaces with host 0.0.0.0", async () => {
    await using all = await serve(EchoEnvironment, { port: 0, host: "0.0.0.0" });
    expect(all.host).toBe("0.0.0.0");
    await using env = await EnvClient.connect({ baseUrl: all.url, spec: echoSpec });
    await env.reset();
  });
});
