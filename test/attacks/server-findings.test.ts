// Issue 11's server findings, end to end against real servers: the CLI's default
// limits in single-process mode (3), a relayed request whose owner exits cleanly (7),
// and typed 4xx errors where a 5xx was given (10).
import { spawn } from "node:child_process";
import * as http from "node:http";
import * as http2 from "node:http2";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CodeActionSchema } from "../../gen/openenv/envs/coding/v1/coding_pb.js";
import { EnvironmentService, ResetRequestSchema } from "../../gen/openenv/v1/environment_service_pb.js";
import { createTransport } from "../../src/client/transports.js";
import { CodingEnvironment } from "../../src/envs/coding/environment.js";
import { EchoEnvironment } from "../../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { type CliServer, repoRoot, startCliServer, waitFor } from "../auto/helpers.js";
import { RawWs } from "../fixtures/raw-ws.js";

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

describe("finding 3: the CLI's default limits hold in single-process mode", () => {
  let cli: CliServer;
  beforeAll(async () => {
    cli = await startCliServer(["echo"]);
    cleanups.push(() => cli.stop());
  }, 90_000);

  it("Describe reports the session cap and the idle timeout", async () => {
    const t = createTransport({ kind: "connect", baseUrl: cli.url });
    const client = createClient(EnvironmentService, t.transport);
    try {
      const info = await client.describe({});
      expect(info.limits?.maxSessions).toBe(64);
      expect(Number(info.limits?.idleTimeout?.seconds)).toBe(600);
      expect(info.limits?.stepTimeout).toBeDefined();
    } finally {
      t.close();
    }
  });

  it("refuses the 65th session with RESOURCE_EXHAUSTED", async () => {
    const t = createTransport({ kind: "connect", baseUrl: cli.url });
    const client = createClient(EnvironmentService, t.transport);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 64; i++) ids.push((await client.reset({})).sessionId);
      const err = await client.reset({}).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.ResourceExhausted);
    } finally {
      await Promise.all(ids.map((sessionId) => client.closeSession({ sessionId }).catch(() => {})));
      t.close();
    }
  }, 60_000);
});

/** One HTTP/1.1 keep-alive connection (a cluster's connections land on its workers in turn). */
function h1(url: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const call = (path: string, headers: Record<string, string>, body: unknown, timeoutMs = 20_000) =>
    new Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const req = http.request(
        `${url}${path}`,
        { method: "POST", agent, headers: { ...headers, "content-type": "application/json" } },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (d: string) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
          res.on("error", reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(JSON.stringify(body));
    });
  return { call, close: () => agent.destroy() };
}

describe("finding 7: a relayed HTTP request whose owning worker exits cleanly", () => {
  it("is answered 503 at once instead of hanging", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "test/fixtures/cluster-server.ts"), "8"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode === null ? child.once("exit", r) : r(undefined)));
    });
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const event = JSON.parse(line) as { event: string; url?: string };
        if (event.event === "listening") resolve(event.url as string);
      });
      child.once("exit", (code) => reject(new Error(`cluster exited with ${code}`)));
    });
    // Two connections on different workers: the session lives on the first, the call goes through the second.
    const owner = (id: string) => /^w(\d+)-/.exec(id)?.[1];
    const first = h1(url);
    const opened = await first.call("/reset", { "openenv-session-id": "new" }, {});
    const id = opened.headers["openenv-session-id"] as string;
    let second = h1(url);
    for (let i = 0; i < 40; i++) {
      const probe = await second.call("/reset", { "openenv-session-id": "new" }, {});
      if (owner(probe.headers["openenv-session-id"] as string) !== owner(id)) break;
      second.close();
      second = h1(url);
    }
    const started = Date.now();
    const relayed = await second.call("/step", { "openenv-session-id": id }, { action: { message: "exit:300" } }, 15_000);
    expect(relayed.status).toBe(503);
    expect(JSON.parse(relayed.text)).toMatchObject({ code: "unavailable" });
    expect(Date.now() - started).toBeLessThan(10_000);
    first.close();
    second.close();
  }, 120_000);
});

describe("finding 10: typed 4xx errors, not 5xx", () => {
  let server: EnvironmentServer;
  beforeAll(async () => {
    server = await serve(EchoEnvironment, { port: 0 });
    cleanups.push(() => server.close());
  });

  const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;

  it("a 100,000-deep JSON action on HTTP /step gets 422 naming the nesting", async () => {
    const res = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"action":{"message":${deep(100_000)}}}`,
    });
    expect(res.status).toBe(422);
    expect(await res.text()).toMatch(/nest/i);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it("a deep JSON frame on /ws gets a validation error and the socket stays usable", async () => {
    const ws = await RawWs.open(`${server.url.replace("http", "ws")}/ws`);
    try {
      ws.send(`{"type":"step","data":{"message":${deep(100_000)}}}`);
      const answer = JSON.parse(await ws.next()) as { type: string; data: { code?: string; message?: string } };
      expect(answer.type).toBe("error");
      expect(JSON.stringify(answer.data)).toMatch(/nest/i);
      expect(answer.data.code).not.toBe("EXECUTION_ERROR");
      ws.send({ type: "reset", data: {} });
      expect(JSON.parse(await ws.next()).type).toBe("observation");
    } finally {
      ws.ws.close();
    }
  });

  it("binary garbage on Connect unary Reset gets invalid_argument (400)", async () => {
    const res = await fetch(`${server.url}/openenv.v1.EnvironmentService/Reset`, {
      method: "POST",
      headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
      body: Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02, 0x8a]),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: "invalid_argument" });
  });

  /** One gRPC call with raw frames; resolves to its grpc-status and message. */
  async function grpcCall(path: string, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<{ status: number; message: string }> {
    const session = http2.connect(server.url);
    try {
      return await new Promise((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc",
          te: "trailers",
          ...headers,
        });
        let status: { status: number; message: string } | undefined;
        const take = (h: http2.IncomingHttpHeaders) => {
          if (h["grpc-status"] !== undefined)
            status = { status: Number(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
        };
        stream.on("response", take);
        stream.on("trailers", take);
        stream.on("data", () => {});
        stream.on("close", () => (status === undefined ? reject(new Error("no grpc-status")) : resolve(status)));
        stream.on("error", reject);
        stream.end(body);
      });
    } finally {
      session.close();
    }
  }

  const frame = (payload: Uint8Array) => {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(payload.length, 1);
    return Buffer.concat([head, payload]);
  };

  it("binary garbage on gRPC unary and on the Step stream gets INVALID_ARGUMENT", async () => {
    const garbage = frame(Buffer.from([0xff, 0xff, 0xff, 0x01, 0x02, 0x8a]));
    expect((await grpcCall("/openenv.v1.EnvironmentService/Reset", {}, garbage)).status).toBe(Code.InvalidArgument);
    expect((await grpcCall("/openenv.v1.EnvironmentService/Step", {}, garbage)).status).toBe(Code.InvalidArgument);
    // The Step stream also through connect-node (a deadline takes it off the fast path).
    expect((await grpcCall("/openenv.v1.EnvironmentService/Step", { "grpc-timeout": "10S" }, garbage)).status).toBe(Code.InvalidArgument);
  });

  it("grpc-encoding: br gets UNIMPLEMENTED naming the encodings served", async () => {
    const compressed = Buffer.from(frame(toBinary(ResetRequestSchema, create(ResetRequestSchema, {}))));
    compressed[0] = 1;
    for (const path of ["/openenv.v1.EnvironmentService/Reset", "/openenv.v1.EnvironmentService/Step"]) {
      const r = await grpcCall(path, { "grpc-encoding": "br" }, compressed);
      expect(r.status).toBe(Code.Unimplemented);
      expect(r.message).toMatch(/gzip/);
    }
  });
});

describe("finding 10: timeout_s: 1e400 is refused on every path", () => {
  let server: EnvironmentServer;
  beforeAll(async () => {
    server = await serve(CodingEnvironment, { port: 0 });
    cleanups.push(() => server.close());
  });

  it("over HTTP, WebSocket and binary RPC", async () => {
    const opened = await fetch(`${server.url}/reset`, {
      method: "POST",
      headers: { "content-type": "application/json", "openenv-session-id": "new" },
      body: "{}",
    });
    const id = opened.headers.get("openenv-session-id") as string;
    const http = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "content-type": "application/json", "openenv-session-id": id },
      body: '{"action":{"code":"print(1)","timeout_s":1e400}}',
    });
    expect(http.status).toBe(422);
    // OpenEnv's step request has a timeout_s of its own, beside the action (it was accepted as Infinity).
    const envelope = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "content-type": "application/json", "openenv-session-id": id },
      body: '{"action":{"code":"print(1)"},"timeout_s":1e400}',
    });
    expect(envelope.status).toBe(422);
    expect(await envelope.json()).toMatchObject({ detail: [{ loc: ["body", "timeout_s"], type: "finite_number" }] });
    const ws = await RawWs.open(`${server.url.replace("http", "ws")}/ws`);
    try {
      ws.send({ type: "reset", data: {} });
      await ws.next();
      ws.send('{"type":"step","data":{"code":"print(1)","timeout_s":1e400}}');
      expect(JSON.parse(await ws.next())).toMatchObject({ type: "error", data: { code: "VALIDATION_ERROR" } });
    } finally {
      ws.ws.close();
    }
    const t = createTransport({ kind: "grpc", baseUrl: server.url });
    const client = createClient(EnvironmentService, t.transport);
    try {
      async function* requests() {
        yield { command: { case: "reset" as const, value: {} } };
        const action = anyPack(CodeActionSchema, create(CodeActionSchema, { code: "print(1)", timeoutS: Number.POSITIVE_INFINITY }));
        yield { command: { case: "action" as const, value: action } };
      }
      const kinds: string[] = [];
      for await (const res of client.step(requests())) {
        kinds.push(res.kind.case ?? "");
        if (res.kind.case === "error") expect(res.kind.value.code).toBe(Code.InvalidArgument);
      }
      expect(kinds.sort()).toEqual(["error", "result"]);
    } finally {
      t.close();
      await opened.text();
    }
    await waitFor(async () => (await fetch(`${server.url}/health`)).status === 200);
  });
});
