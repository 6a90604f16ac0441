// Garbage on spare connections for the soak test: raw TCP, raw HTTP/1.1, raw HTTP/2
// and raw WebSocket clients that send junk. Each one is bounded in time and cleans up
// after itself; the outcome says who ended the connection.
import * as http2 from "node:http2";
import * as net from "node:net";
import WebSocket from "ws";

/** A seeded random source (mulberry32): the same seed replays the same chaos. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type GarbageKind = "tcp-random" | "tcp-silent" | "http1-mangled" | "h2-frames" | "h2-step-junk" | "ws-junk";
export const garbageKinds: readonly GarbageKind[] = ["tcp-random", "tcp-silent", "http1-mangled", "h2-frames", "h2-step-junk", "ws-junk"];

/** `answered`: the server replied; `closed`: the server closed the connection; `timeout`: we gave up and closed it. */
export type GarbageOutcome = "answered" | "closed" | "timeout" | "refused";

function bytes(random: () => number, max: number): Buffer {
  const n = 1 + Math.floor(random() * max);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}

/** Writes, then waits for the server to answer or close, up to `waitMs`. */
function rawTcp(port: number, payload: Buffer, waitMs: number): Promise<GarbageOutcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let answered = false;
    let done = false;
    const finish = (outcome: GarbageOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish("timeout"), waitMs);
    socket.on("connect", () => {
      if (payload.length > 0) socket.write(payload);
    });
    socket.on("data", () => {
      answered = true;
    });
    socket.on("close", () => finish(answered ? "answered" : "closed"));
    socket.on("error", (e: NodeJS.ErrnoException) => finish(e.code === "ECONNREFUSED" ? "refused" : answered ? "answered" : "closed"));
  });
}

const http1Templates = [
  "POST /step HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n",
  "GET /state HTTP/1.1\r\nHost: x\r\n\r\n",
  "POST /openenv.v1.EnvironmentService/Reset HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n",
  "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n",
];

/** Sends one piece of garbage of the given kind to the server at `port`. */
export async function sendGarbage(kind: GarbageKind, port: number, random: () => number): Promise<GarbageOutcome> {
  switch (kind) {
    case "tcp-random":
      return rawTcp(port, bytes(random, 300), 3_000);
    case "tcp-silent":
      // Nothing at all: the server's first-byte timeout must close it.
      return rawTcp(port, Buffer.alloc(0), 5_000);
    case "http1-mangled": {
      const template = http1Templates[Math.floor(random() * http1Templates.length)] as string;
      const request = Buffer.from(`${template}{"action":{"message":"hi"}}`, "latin1");
      const edits = 1 + Math.floor(random() * 4);
      for (let i = 0; i < edits; i++) request[Math.floor(random() * request.length)] = Math.floor(random() * 256);
      return rawTcp(port, request, 3_000);
    }
    case "h2-frames":
      // A valid preface, then random frames.
      return rawTcp(port, Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1"), bytes(random, 200)]), 3_000);
    case "h2-step-junk":
      return h2StepJunk(port, random);
    case "ws-junk":
      return wsJunk(port, random);
  }
}

/** A real HTTP/2 client opening a Step stream and writing random bytes on it. */
function h2StepJunk(port: number, random: () => number): Promise<GarbageOutcome> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    let done = false;
    const finish = (outcome: GarbageOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish("timeout"), 3_000);
    session.on("error", () => finish("closed"));
    const types = ["application/grpc", "application/grpc-web+proto", "application/connect+proto", "application/grpc+json"];
    const stream = session.request({
      ":method": "POST",
      ":path": "/openenv.v1.EnvironmentService/Step",
      "content-type": types[Math.floor(random() * types.length)] as string,
      te: "trailers",
    });
    stream.on("response", () => {});
    stream.on("data", () => {});
    stream.on("error", () => finish("closed"));
    stream.on("close", () => finish("answered"));
    stream.end(bytes(random, 100));
  });
}

/** A WebSocket on /ws (a session of its own) sent junk frames, then closed. */
function wsJunk(port: number, random: () => number): Promise<GarbageOutcome> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: false });
    let done = false;
    let answered = false;
    const finish = (outcome: GarbageOutcome): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => finish(answered ? "answered" : "timeout"), 3_000);
    const frames = [
      () => bytes(random, 50).toString("latin1"),
      () => '{"type":"step","data":{"message":42}}',
      () => '{"type":"reset","data":{"__proto__":{"polluted":1}}}',
      () => '{"type":"nope"}',
      () => "[1,2,",
      () => '{"type":"step","data":{"message":"ok"}}',
    ];
    ws.on("open", () => {
      const n = 1 + Math.floor(random() * 4);
      for (let i = 0; i < n; i++) {
        if (random() < 0.2) ws.send(bytes(random, 40), { binary: true });
        else ws.send((frames[Math.floor(random() * frames.length)] as () => string)());
      }
      setTimeout(() => ws.close(), 50 + Math.floor(random() * 200));
    });
    ws.on("message", () => {
      answered = true;
    });
    ws.on("close", () => finish(answered ? "answered" : "closed"));
    ws.on("error", () => finish("closed"));
  });
}
