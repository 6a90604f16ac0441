import * as http from "node:http";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code } from "@connectrpc/connect";
import { endStreamFromJson } from "@connectrpc/connect/protocol-connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoActionSchema } from "../../gen/openenv/envs/echo/v1/echo_pb.js";
import { StepRequestSchema, type StepResponse, StepResponseSchema } from "../../gen/openenv/v1/environment_service_pb.js";
import { buildWeb } from "../../scripts/build-web.js";
import { EchoEnvironment } from "../../src/envs/echo/environment.js";
import { EnvelopeReader, envelope } from "../../src/protocol/step-wire.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { startCliServer } from "../auto/helpers.js";

/**
 * The server half of the /web page, without a browser: the static files, the
 * switch, auth, and the half-duplex Step over HTTP/1.1 that the page uses
 * (connect-node alone answers a bidi method on HTTP/1.1 with 505).
 */

let server: EnvironmentServer;
let secured: EnvironmentServer;

beforeAll(async () => {
  await buildWeb();
  server = await serve(EchoEnvironment, { port: 0 });
  secured = await serve(EchoEnvironment, { port: 0, auth: { tokens: ["s3cret"] } });
}, 60_000);
afterAll(async () => {
  await Promise.all([server.close(), secured.close()]);
});

const STEP = "/openenv.v1.EnvironmentService/Step";

/** The reply's StepError (fails the test when it is not one). */
function errorOf(reply: StepResponse | undefined): { code: number; message: string } {
  if (reply?.kind.case !== "error") throw new Error(`expected an error reply, got ${reply?.kind.case}`);
  return reply.kind.value;
}

/** One half-duplex Step call over HTTP/1.1 (Node's fetch): the replies and the end-of-stream error, if any. */
async function stepCall(
  url: string,
  sessionId: string,
  message: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; replies: StepResponse[]; end: ReturnType<typeof endStreamFromJson> | undefined }> {
  const req = create(StepRequestSchema, {
    requestId: `r-${message}`,
    sessionId,
    command: { case: "action", value: anyPack(EchoActionSchema, create(EchoActionSchema, { message })) },
  });
  const res = await fetch(url + STEP, {
    method: "POST",
    headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1", ...headers },
    body: envelope(toBinary(StepRequestSchema, req)),
  });
  const reader = new EnvelopeReader(8 << 20);
  const replies: StepResponse[] = [];
  let end: ReturnType<typeof endStreamFromJson> | undefined;
  reader.push(new Uint8Array(await res.arrayBuffer()), (flags, data) => {
    if ((flags & 2) === 2) end = endStreamFromJson(data);
    else replies.push(fromBinary(StepResponseSchema, data));
  });
  return { status: res.status, replies, end };
}

async function resetSession(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/openenv.v1.EnvironmentService/Reset`, {
    method: "POST",
    headers: { "content-type": "application/json", "connect-protocol-version": "1", ...headers },
    body: "{}",
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { sessionId: string }).sessionId;
}

describe("/web static files", () => {
  it("redirects /web to /web/ and serves the page, its script and its stylesheet with a strict CSP", async () => {
    const redirect = await fetch(`${server.url}/web`, { redirect: "manual" });
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get("location")).toBe("/web/");
    const page = await fetch(`${server.url}/web/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script src="app.js" defer>');
    expect(html).not.toMatch(/https?:\/\//); // nothing from the internet
    const js = await fetch(`${server.url}/web/app.js`);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await js.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(`${server.url}/web/app.css`)).status).toBe(200);
    expect(await (await fetch(`${server.url}/web/renderers.js`)).text()).toBe("");
    expect((await fetch(`${server.url}/web/nope.js`)).status).toBe(404);
    expect((await fetch(`${server.url}/web/`, { method: "POST" })).status).toBe(405);
  });

  it("is off with web: false and in production mode, on with an explicit web: true there", async () => {
    await using off = await serve(EchoEnvironment, { port: 0, web: false });
    expect((await fetch(`${off.url}/web/`)).status).toBe(404);
    await using production = await serve(EchoEnvironment, { port: 0, openenv: { mode: "production" } });
    expect((await fetch(`${production.url}/web/`)).status).toBe(404);
    await using forced = await serve(EchoEnvironment, { port: 0, openenv: { mode: "production" }, web: true });
    expect((await fetch(`${forced.url}/web/`)).status).toBe(200);
  });

  it("openenv serve serves it, and --no-web turns it off", async () => {
    const on = await startCliServer(["echo"]);
    const off = await startCliServer(["echo", "--no-web"]);
    try {
      expect((await fetch(`${on.url}/web/`)).status).toBe(200);
      expect((await fetch(`${off.url}/web/`)).status).toBe(404);
      expect((await fetch(`${off.url}/health`)).status).toBe(200);
    } finally {
      await Promise.all([on.stop(), off.stop()]);
    }
  }, 90_000);

  it("serves the environment author's renderer script as /web/renderers.js", async () => {
    const script = new URL("../fixtures/web-renderers.js", import.meta.url).pathname;
    await using custom = await serve(EchoEnvironment, { port: 0, web: { renderers: script } });
    expect(await (await fetch(`${custom.url}/web/renderers.js`)).text()).toContain("registerRenderer");
  });

  it("with --token the page itself loads without one, the API does not", async () => {
    expect((await fetch(`${secured.url}/web/`)).status).toBe(200);
    expect((await fetch(`${secured.url}/web/app.js`)).status).toBe(200);
    const describe = await fetch(`${secured.url}/openenv.v1.EnvironmentService/Describe`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(describe.status).toBe(401);
  });
});

/** A request with its path sent exactly as written (fetch would normalise `..` away). */
function rawRequest(url: string, method: string, path: string): Promise<number> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end("{}");
  });
}

describe("/web and --token", () => {
  it("a path that only starts with /web is not a page file: /web/../reset still needs the token", async () => {
    for (const path of ["/web/../reset", "/web/%2e%2e/reset", "/web/..%2freset"]) {
      // Refused (401), or the page's own 405: never the reset itself.
      expect([401, 404, 405]).toContain(await rawRequest(secured.url, "POST", path));
    }
    expect(await rawRequest(secured.url, "POST", "/web/../reset")).toBe(401);
    expect(await rawRequest(secured.url, "GET", "/web/./app.js")).toBe(200);
  });
});

describe("Step over HTTP/1.1, half-duplex (what a browser can do)", () => {
  it("answers each call with its result, and keep-session lets one session take many calls", async () => {
    const sessionId = await resetSession(server.url);
    const keep = { "openenv-keep-session": "true" };
    const first = await stepCall(server.url, sessionId, "one", keep);
    expect(first.status).toBe(200);
    expect(first.end?.error).toBeUndefined();
    expect(first.replies).toHaveLength(1);
    expect(first.replies[0]?.kind.case).toBe("result");
    const second = await stepCall(server.url, sessionId, "two", keep);
    const result = second.replies[0]?.kind.value as { stepCount: number };
    expect(result.stepCount).toBe(2);
    // Without the header the call's end closes the session, as a half-closed bidi stream does.
    await stepCall(server.url, sessionId, "three");
    const gone = await stepCall(server.url, sessionId, "four");
    expect(errorOf(gone.replies[0]).code).toBe(Code.NotFound);
  });

  it("an invalid action is an in-band INVALID_ARGUMENT naming the field, and the session stays", async () => {
    const sessionId = await resetSession(server.url);
    const big = "x".repeat(1_048_577);
    const bad = await stepCall(server.url, sessionId, big, { "openenv-keep-session": "true" });
    const err = errorOf(bad.replies[0]);
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.message).toContain("message");
    const ok = await stepCall(server.url, sessionId, "fine", { "openenv-keep-session": "true" });
    expect(ok.replies[0]?.kind.case).toBe("result");
  });

  it("needs the token when the server has one: UNAUTHENTICATED at the end of the stream", async () => {
    const auth = { authorization: "Bearer s3cret" };
    const sessionId = await resetSession(secured.url, auth);
    const refused = await stepCall(secured.url, sessionId, "hi");
    expect(refused.replies).toHaveLength(0);
    expect(refused.end?.error?.code).toBe(Code.Unauthenticated);
    const ok = await stepCall(secured.url, sessionId, "hi", { ...auth, "openenv-keep-session": "true" });
    expect(ok.replies[0]?.kind.case).toBe("result");
  });

  it("connect-node alone refuses it (505): why the server serves it itself", async () => {
    await using withInterceptor = await serve(EchoEnvironment, { port: 0, interceptors: [(next) => (req) => next(req)] });
    const sessionId = await resetSession(withInterceptor.url);
    const res = await stepCall(withInterceptor.url, sessionId, "hi");
    expect(res.status).toBe(505);
  });
});
