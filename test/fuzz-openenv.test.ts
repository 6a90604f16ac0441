// Property-based fuzzing of OpenEnv's surfaces: WebSocket /ws and /mcp frames, HTTP
// bodies and headers on /reset /step /state /mcp over HTTP/1.1 (fetch and raw TCP)
// and HTTP/2. The server runs in this process, so each input is also checked for
// prototype pollution where it would happen: inside the server.
import * as http2 from "node:http2";
import * as net from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { EnvClient } from "../src/client/env-client.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { jsonText, objectOf, objectWith, pollutionText, prototypeGuard, truncated } from "./fixtures/fuzz-json.js";
import { ValidatedEnvironment } from "./fixtures/validated-env.js";
import { waitFor } from "./helpers.js";

const MAX = 64 * 1024;
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const guard = prototypeGuard();

let echo: EnvironmentServer;
let validated: EnvironmentServer;
const sentinels: Sentinel[] = [];
/** Sessions the sentinels hold on each server; every fuzz input must leave the count here. */
const baseline = new Map<EnvironmentServer, number>();

const counts = {
  wsInputs: 0,
  wsFrames: 0,
  wsReplies: {} as Record<string, number>,
  wsCloses: {} as Record<string, number>,
  httpInputs: 0,
  httpStatus: {} as Record<string, number>,
  rawInputs: 0,
  rawStatus: {} as Record<string, number>,
  sessionsOpenedByInputs: 0,
};
const bump = (o: Record<string, number>, k: string | number) => {
  o[k] = (o[k] ?? 0) + 1;
};

/** A client that keeps stepping its own session while the fuzzer runs, and checks every result. */
class Sentinel {
  steps = 0;
  failure: unknown;
  private running = true;
  private readonly done: Promise<void>;

  constructor(
    private readonly env: EnvClient<typeof echoSpec.action, typeof echoSpec.observation>,
    private readonly label: string,
  ) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    // Bounded: the fuzz run ends long before this many steps.
    while (this.running && this.steps < 1_000_000) {
      const n = this.steps + 1;
      const message = `${this.label}-${n}`;
      try {
        const r = await this.env.step({ message });
        if (r.observation.echoedMessage !== message || r.stepCount !== n) {
          this.failure = new Error(`${this.label}: step ${n} answered ${r.observation.echoedMessage} at step ${r.stepCount}`);
          return;
        }
      } catch (err) {
        this.failure = err;
        return;
      }
      this.steps = n;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    await this.env.close();
  }
}

async function sentinel(server: EnvironmentServer, transport: "websocket" | "grpc" | "http", label: string): Promise<void> {
  const env = await EnvClient.connect({ baseUrl: server.url, spec: echoSpec, transport });
  await env.reset();
  sentinels.push(new Sentinel(env, label));
  baseline.set(server, (baseline.get(server) ?? 0) + 1);
}

beforeAll(async () => {
  echo = await serve(EchoEnvironment, { port: 0, maxMessageBytes: MAX, maxSessions: 16 });
  validated = await serve(ValidatedEnvironment, { port: 0, maxMessageBytes: MAX, maxSessions: 16 });
  await sentinel(echo, "websocket", "ws");
  await sentinel(echo, "grpc", "grpc");
  await sentinel(echo, "http", "http");
  baseline.set(validated, 0);
});

afterAll(async () => {
  await Promise.all(sentinels.map((s) => s.stop()));
  await Promise.all([echo?.close(), validated?.close()]);
  console.log(
    `fuzz-openenv: ${counts.wsInputs + counts.httpInputs + counts.rawInputs} inputs ` +
      `(WebSocket: ${counts.wsInputs} connections, ${counts.wsFrames} frames, replies ${JSON.stringify(counts.wsReplies)}, closes ${JSON.stringify(counts.wsCloses)}; ` +
      `HTTP: ${counts.httpInputs} requests, status ${JSON.stringify(counts.httpStatus)}; ` +
      `raw HTTP/1.1: ${counts.rawInputs} requests, status ${JSON.stringify(counts.rawStatus)}); ` +
      `sentinel steps ${sentinels.map((s) => s.steps).join("/")}; sessions opened by inputs and closed: ${counts.sessionsOpenedByInputs}`,
  );
});

/** After every input: no prototype changed, the sentinels are fine, every session the input opened is gone. */
async function settled(server: EnvironmentServer): Promise<void> {
  expect(guard()).toBeUndefined();
  for (const s of sentinels) expect(s.failure).toBeUndefined();
  const want = baseline.get(server) ?? 0;
  await waitFor(() => server.router.sessions.active === want, 15_000, `sessions back to ${want}`);
}

// ---------------------------------------------------------------- WebSocket

type Frame = { kind: "text"; text: string } | { kind: "binary"; bytes: Uint8Array } | { kind: "bad-utf8"; bytes: Uint8Array };
type WsEvent = { frame: string } | { close: { code: number; reason: string } };

/** A raw socket that turns frames and the close into one ordered event list. */
async function openSocket(url: string): Promise<{ ws: WebSocket; next(ms?: number): Promise<WsEvent> }> {
  const events: WsEvent[] = [];
  let wake: (() => void) | undefined;
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 16 * MAX });
  ws.on("message", (d) => {
    events.push({ frame: d.toString() });
    wake?.();
  });
  ws.on("close", (code, reason) => {
    events.push({ close: { code, reason: reason.toString() } });
    wake?.();
  });
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
  return {
    ws,
    async next(ms = 20_000) {
      const end = Date.now() + ms;
      while (events.length === 0) {
        if (Date.now() > end) throw new Error("no WebSocket reply in time");
        await new Promise<void>((r) => {
          const t = setTimeout(r, 100);
          wake = () => {
            clearTimeout(t);
            r();
          };
        });
      }
      return events.shift() as WsEvent;
    },
  };
}

const wsErrorCodes = [
  "INVALID_JSON",
  "UNKNOWN_TYPE",
  "VALIDATION_ERROR",
  "EXECUTION_ERROR",
  "SESSION_ERROR",
  "CAPACITY_REACHED",
  "FACTORY_ERROR",
];

/** Checks one reply of `/ws`: a JSON object with a known type; an error frame carries a known code and a message. */
function checkWsReply(text: string): string {
  const msg = JSON.parse(text) as { type?: unknown; data?: { code?: unknown; message?: unknown } };
  expect(["observation", "state", "error", "mcp"]).toContain(msg.type);
  if (msg.type === "error") {
    expect(wsErrorCodes).toContain(msg.data?.code);
    const message = msg.data?.message;
    expect(typeof message).toBe("string");
    expect(String(message).length).toBeGreaterThan(0);
    return `error:${msg.data?.code as string}`;
  }
  return msg.type as string;
}

/** Checks one reply of WS `/mcp`: a JSON-RPC 2.0 response with a result or a numbered error. */
function checkJsonRpc(text: string): string {
  const msg = JSON.parse(text) as { jsonrpc?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
  expect(msg.jsonrpc).toBe("2.0");
  if (msg.error !== undefined) {
    expect(typeof msg.error.code).toBe("number");
    expect(typeof msg.error.message).toBe("string");
    return `jsonrpc:${msg.error.code as number}`;
  }
  expect(msg.result).toBeDefined();
  return "jsonrpc:result";
}

/** Sends frames one at a time; each gets exactly one reply, or the socket closes with a code that says why. */
async function wsExchange(server: EnvironmentServer, path: "/ws" | "/mcp", frames: Frame[]): Promise<void> {
  counts.wsInputs++;
  const socket = await openSocket(`${server.url.replace("http://", "ws://")}${path}`);
  let lastError: string | undefined;
  let closed: { code: number; reason: string } | undefined;
  for (const frame of frames) {
    counts.wsFrames++;
    if (frame.kind === "text") socket.ws.send(frame.text);
    else socket.ws.send(frame.bytes, { binary: frame.kind === "binary" });
    const event = await socket.next();
    if ("close" in event) {
      closed = event.close;
      // Closed with no error frame: the frame was a `close` message, too big, or not UTF-8.
      if (closed.code === 1000) expect(frame.kind === "text" && frame.text.includes('"close"')).toBe(true);
      if (closed.code === 1009) expect(frameSize(frame)).toBeGreaterThan(MAX);
      if (closed.code === 1007) expect(frame.kind).toBe("bad-utf8");
      break;
    }
    lastError = path === "/ws" ? checkWsReply(event.frame) : checkJsonRpc(event.frame);
    bump(counts.wsReplies, lastError);
    if (lastError === "error:SESSION_ERROR") {
      // OpenEnv ends the loop after a SESSION_ERROR frame with a normal close.
      const after = await socket.next();
      expect("close" in after && after.close.code).toBe(1000);
      closed = (after as { close: { code: number; reason: string } }).close;
      break;
    }
  }
  if (closed !== undefined) {
    bump(counts.wsCloses, closed.code);
    // 1000: after SESSION_ERROR or a `close` message; 1009: frame over maxMessageBytes; 1007: text that is not UTF-8.
    expect([1000, 1007, 1009]).toContain(closed.code);
    if (closed.code === 1007) expect(frames.some((f) => f.kind === "bad-utf8")).toBe(true);
    if (closed.code === 1009) expect(frames.some((f) => frameSize(f) > MAX)).toBe(true);
  } else {
    socket.ws.close();
  }
  await settled(server);
}

const frameSize = (f: Frame): number => (f.kind === "text" ? Buffer.byteLength(f.text) : f.bytes.length);

const echoAction = objectWith(fc.constant<Array<[string, string]>>([]), jsonText(2)).chain((extra) =>
  fc.oneof(
    { weight: 2, arbitrary: jsonText(2).map((m) => `{"message":${m}}`) },
    { weight: 3, arbitrary: fc.string({ maxLength: 30 }).map((m) => `{"message":${JSON.stringify(m)}}`) },
    { weight: 1, arbitrary: fc.constant(extra) },
    { weight: 1, arbitrary: pollutionText },
  ),
);
const validatedAction = objectWith(
  fc
    .tuple(
      fc.oneof(fc.constant('"ab"'), jsonText(1)),
      fc.oneof(fc.constant("3"), jsonText(1)),
      fc.oneof(pollutionText, objectOf(jsonText(1))),
      fc.oneof(pollutionText, objectOf(fc.integer().map(String))),
    )
    .map(([name, count, extra, scores]) => [
      ["name", name],
      ["count", count],
      ["extra", extra],
      ["scores", scores],
    ]),
);

/** `/ws` frames: envelopes with random types and data, raw JSON, garbage, truncation, binary, bad UTF-8, oversize. */
function wsFrames(action: fc.Arbitrary<string>): fc.Arbitrary<Frame> {
  const type = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('"reset"', '"step"', '"state"', '"mcp"', '"close"') },
    { weight: 1, arbitrary: jsonText(1) },
  );
  const data = fc.oneof({ weight: 4, arbitrary: action }, { weight: 2, arbitrary: jsonText(3) }, { weight: 1, arbitrary: pollutionText });
  const envelope = objectWith(
    fc.tuple(type, data).map(
      ([t, d]) =>
        [
          ["type", t],
          ["data", d],
        ] as Array<[string, string]>,
    ),
    jsonText(1),
  );
  const text = fc.oneof(
    { weight: 8, arbitrary: envelope },
    { weight: 2, arbitrary: jsonText(4) },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
    { weight: 2, arbitrary: truncated(envelope) },
    { weight: 1, arbitrary: pollutionText },
    { weight: 1, arbitrary: fc.nat({ max: 4 * MAX }).map((n) => `{"type":"step","data":{"message":"${"z".repeat(n)}"}}`) },
  );
  return fc.oneof(
    { weight: 12, arbitrary: text.map((t) => ({ kind: "text" as const, text: t })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ kind: "binary" as const, bytes: b })) },
    {
      weight: 1,
      arbitrary: fc
        .uint8Array({ minLength: 1, maxLength: 16 })
        .map((b) => ({ kind: "bad-utf8" as const, bytes: Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xc3, 0x28]), b]) })),
    },
  );
}

describe("OpenEnv WebSocket fuzzing", () => {
  it.each([
    ["echo", () => echo, echoAction],
    ["validated", () => validated, validatedAction],
  ] as const)("answers every /ws frame to the %s environment with a typed frame or a meaningful close", async (_name, server, action) => {
    await fc.assert(
      fc.asyncProperty(fc.array(wsFrames(action), { minLength: 1, maxLength: 5 }), async (frames) => {
        await wsExchange(server(), "/ws", frames);
      }),
      { numRuns: RUNS },
    );
  });

  it("answers every WS /mcp frame with JSON-RPC, and stays up", async () => {
    const rpc = objectWith(
      fc
        .tuple(
          fc.oneof(fc.constant('"2.0"'), jsonText(1)),
          fc.oneof(fc.constantFrom('"tools/list"', '"tools/call"', '"openenv/session/create"', '"openenv/session/close"'), jsonText(1)),
          fc.oneof(objectOf(jsonText(2)), pollutionText, jsonText(1)),
          fc.oneof(fc.integer().map(String), jsonText(1)),
        )
        .map(([v, m, p, id]) => [
          ["jsonrpc", v],
          ["method", m],
          ["params", p],
          ["id", id],
        ]),
    );
    const frames = fc.oneof(
      { weight: 6, arbitrary: rpc.map((text) => ({ kind: "text" as const, text })) },
      { weight: 2, arbitrary: jsonText(3).map((text) => ({ kind: "text" as const, text })) },
      { weight: 1, arbitrary: truncated(rpc).map((text) => ({ kind: "text" as const, text })) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 4 }), async (fs) => {
        await wsExchange(echo, "/mcp", fs);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------- HTTP

interface HttpInput {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
}

interface HttpOutcome {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const routes = { "/reset": "POST", "/step": "POST", "/state": "GET", "/mcp": "POST" } as const;

function httpInputs(action: fc.Arbitrary<string>): fc.Arbitrary<HttpInput> {
  const route = fc.constantFrom(...(Object.keys(routes) as Array<keyof typeof routes>));
  const query = fc.oneof(
    fc.constant(""),
    fc.constantFrom("?extensions=1", "?extensions=0", "?extensions=", "?__proto__[polluted]=1", "?constructor[prototype][polluted]=1"),
    fc.string({ maxLength: 20 }).map((s) => `?${encodeURIComponent(s)}=${encodeURIComponent(s)}`),
  );
  const contentType = fc.constantFrom(
    undefined,
    "application/json",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json; charset=latin1",
    "application/grpc",
    "application/connect+proto",
    "*/*",
  );
  const sessionHeader = fc.constantFrom(
    undefined,
    undefined,
    "new",
    "",
    "__proto__",
    "constructor",
    "toString",
    "not-a-session",
    "x".repeat(300),
    "00000000-0000-0000-0000-000000000000",
  );
  const stepBody = objectWith(
    fc
      .tuple(
        fc.oneof({ weight: 4, arbitrary: action }, { weight: 1, arbitrary: jsonText(2) }),
        fc.option(fc.oneof(fc.constantFrom("0.5", "1e-300", "-1", "0", '"2"', '"x"', "1e400"), jsonText(1)), { nil: undefined }),
        fc.option(jsonText(1), { nil: undefined }),
      )
      .map(([a, t, r]) => {
        const e: Array<[string, string]> = [["action", a]];
        if (t !== undefined) e.push(["timeout_s", t]);
        if (r !== undefined) e.push(["request_id", r]);
        return e;
      }),
  );
  const rpcBody = objectWith(
    fc
      .tuple(fc.constantFrom('"openenv/session/create"', '"openenv/session/close"', '"tools/list"', '"nope"'), objectOf(jsonText(1)))
      .map(([m, p]) => [
        ["jsonrpc", '"2.0"'],
        ["method", m],
        ["params", p],
        ["id", "1"],
      ]),
  );
  const body = fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 4, arbitrary: stepBody },
    { weight: 2, arbitrary: objectOf(jsonText(2)) },
    { weight: 2, arbitrary: rpcBody },
    { weight: 2, arbitrary: jsonText(4) },
    { weight: 1, arbitrary: fc.string({ maxLength: 100 }) },
    { weight: 1, arbitrary: truncated(stepBody) },
    { weight: 1, arbitrary: pollutionText },
    { weight: 1, arbitrary: fc.nat({ max: 3 * MAX }).map((n) => `{"action":{"message":"${"z".repeat(n)}"}}`) },
  );
  return fc
    .record({
      route,
      query,
      wrongMethod: fc.oneof(
        { weight: 6, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH") },
      ),
      contentType,
      sessionHeader,
      junk: fc.option(
        fc.constantFrom(["content-encoding", "gzip"], ["x-forwarded-for", "::1"], ["accept", "text/html"], ["authorization", "Bearer x"]),
        {
          nil: undefined,
        },
      ),
      body,
    })
    .map(({ route, query, wrongMethod, contentType, sessionHeader, junk, body }) => {
      const method = wrongMethod ?? routes[route];
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers["content-type"] = contentType;
      if (sessionHeader !== undefined) headers["openenv-session-id"] = sessionHeader;
      if (junk !== undefined) headers[junk[0]] = junk[1];
      return { method, path: `${route}${query}`, headers, body: method === "GET" ? undefined : body };
    });
}

async function viaFetch(server: EnvironmentServer, input: HttpInput): Promise<HttpOutcome> {
  const res = await fetch(`${server.url}${input.path}`, { method: input.method, headers: input.headers, body: input.body });
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    headers[k] = v;
  });
  return { status: res.status, headers, body: await res.text() };
}

async function viaHttp2(session: http2.ClientHttp2Session, input: HttpInput): Promise<HttpOutcome> {
  return await new Promise((resolve, reject) => {
    const stream = session.request(
      { ":method": input.method, ":path": input.path, ...input.headers },
      { endStream: input.body === undefined },
    );
    let status = 0;
    const headers: Record<string, string> = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      status = Number(h[":status"]);
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") && v !== undefined) headers[k] = String(v);
    });
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => resolve({ status, headers, body: Buffer.concat(chunks).toString() }));
    stream.on("error", reject);
    if (input.body !== undefined) stream.end(input.body);
    setTimeout(() => reject(new Error("no HTTP/2 response in time")), 20_000).unref();
  });
}

/** Checks an OpenEnv HTTP answer: JSON always; 4xx with `detail`; /mcp is JSON-RPC with status 200. Frees sessions it opened. */
async function checkHttp(server: EnvironmentServer, input: HttpInput, out: HttpOutcome): Promise<void> {
  bump(counts.httpStatus, out.status);
  const body = JSON.parse(out.body) as Record<string, unknown>;
  // 5xx only when the environment itself failed (the validated env's "boom"), never for bad input.
  if (out.status >= 500) expect(body.detail).toBe("the environment failed on purpose");
  else expect(out.status).toBeLessThan(500);
  if (out.status >= 400) {
    expect(["string", "object"]).toContain(typeof body.detail);
    expect(body.detail).not.toBeNull();
  }
  const route = input.path.split("?")[0];
  if (route === "/mcp" && input.method === "POST" && out.status === 200) {
    expect(body.jsonrpc).toBe("2.0");
    const created = (body.result as { session_id?: unknown } | undefined)?.session_id;
    if (typeof created === "string" && (await server.router.sessions.close(created))) counts.sessionsOpenedByInputs++;
  }
  const opened = out.headers["openenv-session-id"];
  if (input.headers["openenv-session-id"] === "new" && opened !== undefined) {
    expect(out.status).toBe(200);
    if (await server.router.sessions.close(opened)) counts.sessionsOpenedByInputs++;
  }
}

describe("OpenEnv HTTP fuzzing", () => {
  it.each([
    ["echo", () => echo, echoAction],
    ["validated", () => validated, validatedAction],
  ] as const)("answers every HTTP/1.1 request to the %s environment with JSON and a 2xx/4xx status", async (_name, server, action) => {
    await fc.assert(
      fc.asyncProperty(httpInputs(action), async (input) => {
        counts.httpInputs++;
        await checkHttp(server(), input, await viaFetch(server(), input));
        await settled(server());
      }),
      { numRuns: RUNS },
    );
  });

  it("answers every HTTP/2 request with JSON and a 2xx/4xx status", async () => {
    const session = http2.connect(validated.url);
    session.on("error", () => {});
    try {
      await fc.assert(
        fc.asyncProperty(httpInputs(validatedAction), async (input) => {
          counts.httpInputs++;
          await checkHttp(validated, input, await viaHttp2(session, input));
          await settled(validated);
        }),
        { numRuns: RUNS },
      );
    } finally {
      session.close();
    }
  });
});

// ---------------------------------------------------------------- raw HTTP/1.1

/** Sends raw bytes and reads until the server closes (or a short cap: an incomplete request gets no answer). */
async function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return await new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(finish, 1_500);
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      if (responseComplete(Buffer.concat(chunks))) finish();
    });
    socket.on("close", finish);
    socket.on("error", finish);
    socket.write(bytes);
  });
}

function responseComplete(buf: Buffer): boolean {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = /\r\ncontent-length: *(\d+)/i.exec(buf.subarray(0, end).toString("latin1"))?.[1];
  return length !== undefined && buf.length >= end + 4 + Number(length);
}

function parseRaw(buf: Buffer): { status: number; head: string; body: string; contentType: string | undefined } | undefined {
  const text = buf.toString("latin1");
  const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
  if (m === null) return undefined;
  const end = text.indexOf("\r\n\r\n");
  const head = text.slice(0, end);
  const contentType = /\r\ncontent-type: *([^\r]+)/i.exec(head)?.[1];
  let body = buf.subarray(end + 4).toString("utf8");
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    let out = "";
    for (let rest = body; ; ) {
      const nl = rest.indexOf("\r\n");
      const size = Number.parseInt(rest.slice(0, nl), 16);
      if (!(size > 0)) break;
      out += rest.slice(nl + 2, nl + 2 + size);
      rest = rest.slice(nl + 2 + size + 2);
    }
    body = out;
  }
  return { status: Number(m[1]), head, body, contentType };
}

const rawRequests = fc.oneof(
  fc.constant("POST /step HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 27\r\nConnection: close\r\n\r\n"),
  fc.constant("POST /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"),
  fc.constant("GET /state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  fc.constant("POST /mcp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
);
const rawBody = (head: string): string =>
  head.startsWith("POST /step")
    ? '{"action":{"message":"hi"}}'
    : head.startsWith("POST /reset")
      ? "{}"
      : head.includes("chunked")
        ? '3c\r\n{"jsonrpc":"2.0","method":"openenv/session/create","id":1234567}\r\n0\r\n\r\n'
        : "";

/** Valid requests, then mangled: bytes replaced, malformed headers added, oversize headers, garbage. */
const malformed = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(rawRequests, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([head, edits]) => {
        const bytes = Buffer.from(head + rawBody(head), "latin1");
        for (const [pos, b] of edits) bytes[pos % bytes.length] = b;
        return bytes;
      }),
  },
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        rawRequests,
        fc.constantFrom(
          "Content-Length: abc",
          "Content-Length: 5\r\nContent-Length: 6",
          "Transfer-Encoding: chunked",
          "Transfer-Encoding: gzip, chunked",
          "X-No-Colon",
          "X Space: y",
          "X-Nul: a\u0000b",
          "X-Bin: \u00ff\u00fe",
          ` X-Folded: a\r\n b`,
          `X-Huge: ${"h".repeat(20_000)}`,
          "OpenEnv-Session-Id: __proto__",
          "OpenEnv-Session-Id: new",
          "Content-Length: -1",
          "Content-Length: 99999999999999999999",
        ),
      )
      .map(([head, header]) => {
        const [line, ...rest] = head.split("\r\n");
        return Buffer.from(`${line}\r\n${header}\r\n${rest.join("\r\n")}${rawBody(head)}`, "latin1");
      }),
  },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.uint8Array({ minLength: 4, maxLength: 200 }).map((b) => Buffer.from(b)),
      fc
        .constantFrom("GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "POST /step HTTP/1.0\r\n\r\n", "\r\n\r\n\r\n\r\n", "GET /state\r\n\r\n")
        .map((s) => Buffer.from(s, "latin1")),
    ),
  },
);

describe("raw HTTP/1.1 fuzzing", () => {
  it("answers malformed requests with 4xx and a JSON body (or closes), never 5xx, and stays up", async () => {
    await fc.assert(
      fc.asyncProperty(malformed, async (bytes) => {
        counts.rawInputs++;
        const res = parseRaw(await rawExchange(echo.port, bytes));
        bump(counts.rawStatus, res?.status ?? "none");
        if (res !== undefined) {
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400 && res.body !== "") {
            expect(res.contentType).toMatch(/^application\/json/);
            expect(JSON.parse(res.body)).toHaveProperty("detail");
          }
          const created = /"session_id":"([0-9a-f-]{36})"/.exec(res.body)?.[1];
          if (created !== undefined && (await echo.router.sessions.close(created))) counts.sessionsOpenedByInputs++;
          const opened = /\r\nopenenv-session-id: *([0-9a-f-]{36})/i.exec(res.head)?.[1];
          if (opened !== undefined && (await echo.router.sessions.close(opened))) counts.sessionsOpenedByInputs++;
        }
        await settled(echo);
      }),
      { numRuns: RUNS },
    );
    // Every raw connection was closed by one side or the other.
    await waitFor(() => echo.listener.connections() <= 8, 15_000, "raw connections closed");
  });
});

describe("prototype keys from clients", () => {
  it("stay plain data in reset options, and are refused with a field error where protobuf maps cannot hold them", async () => {
    const socket = await openSocket(`${validated.url.replace("http://", "ws://")}/ws`);
    socket.ws.send('{"type":"reset","data":{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"k":1}}');
    const reset = JSON.parse(((await socket.next()) as { frame: string }).frame) as { data: { metadata: { options: object } } };
    // Round-tripped as own keys, as OpenEnv's Python server would pass them to reset(**kwargs).
    expect(reset.data.metadata.options).toEqual(
      JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"k":1}'),
    );
    expect(Object.keys(reset.data.metadata.options)).toEqual(["__proto__", "constructor", "k"]);
    socket.ws.send('{"type":"step","data":{"name":"ab","count":1,"scores":{"__proto__":3},"extra":{"a":[{"__proto__":{"x":1}}]}}}');
    const step = JSON.parse(((await socket.next()) as { frame: string }).frame) as {
      data: { code: string; errors: { loc: string[]; msg: string }[] };
    };
    expect(step.data.code).toBe("VALIDATION_ERROR");
    expect(step.data.errors.map((e) => [e.loc, e.msg])).toEqual([
      [["scores", "__proto__"], "Value error, the key '__proto__' is not supported"],
      [["extra", "a", 0, "__proto__"], "Value error, the key '__proto__' is not supported"],
    ]);
    socket.ws.close();
    const http = await fetch(`${validated.url}/reset`, { method: "POST", body: '{"__proto__":{"polluted":1},"seed":1}' });
    expect(((await http.json()) as { metadata: { options: object } }).metadata.options).toEqual(JSON.parse('{"__proto__":{"polluted":1}}'));
    expect(guard()).toBeUndefined();
    await settled(validated);
  });
});
