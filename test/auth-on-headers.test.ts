// Issue 11, finding 9: on a token-protected server, credentials are checked on a
// request's HEADERS, on every transport, so a request that never ends its body is
// refused at once; and a connection that never authenticates is cut after a bound.
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvClient } from "../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

const TOKEN = "header-check-token";
const BOUND_MS = 600;
let server: EnvironmentServer;

beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0, auth: { tokens: [TOKEN], unauthenticatedConnectionMs: BOUND_MS } });
});
afterAll(async () => {
  await server.close();
});

/** Resolves with what arrives first: the response headers (and trailers, if the response ends), or "no answer" after `ms`. */
function headersOnly(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  ms = 3_000,
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: Buffer } | "no answer"> {
  return new Promise((resolve) => {
    // endStream false: HEADERS only, and the body never comes.
    const stream = session.request({ ":method": "POST", ...headers }, { endStream: false });
    const timer = setTimeout(() => {
      stream.close(http2.constants.NGHTTP2_CANCEL);
      resolve("no answer");
    }, ms);
    let response: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      response = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      clearTimeout(timer);
      if (response === undefined) return resolve("no answer");
      resolve({ status: Number(response[":status"]), headers: response, trailers, body: Buffer.concat(chunks) });
    });
    stream.on("error", () => {});
  });
}

describe("credentials are checked on headers", () => {
  const reset = "/openenv.v1.EnvironmentService/Reset";
  const step = "/openenv.v1.EnvironmentService/Step";

  it("answers an HTTP/2 Connect unary call that never sends its body with 401 unauthenticated", async () => {
    const session = http2.connect(server.url);
    try {
      const r = await headersOnly(session, { ":path": reset, "content-type": "application/proto", "connect-protocol-version": "1" });
      expect(r).not.toBe("no answer");
      if (r === "no answer") return;
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body.toString())).toMatchObject({ code: "unauthenticated" });
    } finally {
      session.close();
    }
  });

  it.each([
    ["gRPC unary", reset, "application/grpc"],
    ["gRPC-Web unary", reset, "application/grpc-web+proto"],
    ["gRPC Step stream", step, "application/grpc+proto"],
    ["Connect JSON Step stream", step, "application/connect+json"],
  ])("answers a %s that never sends its body with UNAUTHENTICATED", async (_name, path, contentType) => {
    const session = http2.connect(server.url);
    try {
      const r = await headersOnly(session, { ":path": path, "content-type": contentType, te: "trailers" });
      expect(r).not.toBe("no answer");
      if (r === "no answer") return;
      const text = `${JSON.stringify(r.headers)} ${JSON.stringify(r.trailers)} ${r.body.toString("latin1")}`;
      // gRPC: grpc-status 16; gRPC-Web: a trailer frame; Connect streaming: an end-stream message.
      expect(text).toMatch(/grpc-status"?[:=]\s*"?16|"code":"unauthenticated"/);
    } finally {
      session.close();
    }
  });

  it.each([
    ["Connect unary over HTTP/1.1", reset, "application/proto"],
    ["OpenEnv HTTP /step", "/step", "application/json"],
  ])("answers %s headers without a body with 401", async (_name, path, contentType) => {
    const status = await new Promise<number | "no answer">((resolve) => {
      const req = http.request(`${server.url}${path}`, {
        method: "POST",
        headers: { "content-type": contentType, "content-length": "100" },
      });
      const timer = setTimeout(() => {
        req.destroy();
        resolve("no answer");
      }, 3_000);
      req.on("response", (res) => {
        clearTimeout(timer);
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", () => {});
      req.flushHeaders(); // headers only: the 100 bytes never come
    });
    expect(status).toBe(401);
  });
});

describe("connections without credentials", () => {
  it("cuts an HTTP/2 connection that never makes an authenticated request", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    const closed = new Promise<number>((resolve) => session.once("close", () => resolve(Date.now())));
    const opened = Date.now();
    // Keeps trying without credentials: every request is refused, and the connection is cut after the bound.
    const poke = setInterval(() => {
      if (session.closed || session.destroyed) return;
      const s = session.request({ ":method": "POST", ":path": "/reset", "content-type": "application/json" }, { endStream: false });
      s.on("error", () => {});
      s.resume();
    }, 100);
    try {
      const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 10_000))]);
      expect(at).toBeGreaterThan(0);
      expect(at - opened).toBeGreaterThanOrEqual(BOUND_MS - 50);
    } finally {
      clearInterval(poke);
      session.destroy();
    }
  });

  it("cuts an HTTP/1.1 connection that never authenticates", async () => {
    const socket = net.connect(server.port, "127.0.0.1");
    socket.on("error", () => {});
    await new Promise((r) => socket.once("connect", r));
    const opened = Date.now();
    const closed = new Promise<number>((resolve) => {
      socket.once("close", () => resolve(Date.now()));
      setTimeout(() => resolve(-1), 10_000);
    });
    // Health checks need no credentials and keep the connection alive; they do not make it trusted.
    socket.write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    let answered = "";
    socket.on("data", (c: Buffer) => {
      answered += c.toString();
    });
    const at = await closed;
    expect(answered).toContain("HTTP/1.1 200");
    expect(at).toBeGreaterThan(0);
    expect(at - opened).toBeGreaterThanOrEqual(BOUND_MS - 50);
  });

  it("keeps a connection that authenticated open past the bound", async () => {
    await using env = await EnvClient.connect({
      baseUrl: server.url,
      spec: echoSpec,
      transport: "grpc",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    await env.reset();
    await new Promise((r) => setTimeout(r, BOUND_MS * 3));
    expect((await env.step({ message: "still here" })).observation.echoedMessage).toBe("still here");
  });
});
