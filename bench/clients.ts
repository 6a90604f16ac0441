// Client sides of the benchmark cases. Each builder opens `n` sessions and
// returns one step function per session plus a cleanup.
import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
import { FrameActionSchema } from "../gen/openenv/bench/v1/frames_pb.js";
import { EchoActionSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { EnvironmentService } from "../gen/openenv/v1/environment_service_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { createTransport, type RpcTransportKind } from "../src/client/transports.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { jsonRegistry } from "../src/protocol/descriptors.js";
import { createEnvironmentRouter } from "../src/server/router.js";
import { framesSpec } from "./frames-env.js";
import type { StepFn } from "./harness.js";

export interface Sessions {
  readonly steps: StepFn[];
  close(): Promise<void>;
}

/** The echo action every small-message case sends. */
export const MESSAGE = "ping";
const echoAction = create(EchoActionSchema, { message: MESSAGE });

/** `EnvClient` sessions over an RPC protocol: one shared HTTP/2 connection, or one each. */
export async function rpcSessions(url: string, kind: RpcTransportKind, n: number, shared: boolean, frameSize?: number): Promise<Sessions> {
  const spec = frameSize === undefined ? echoSpec : framesSpec;
  const registry = jsonRegistry([spec.action, spec.observation, spec.state]);
  const owned = shared ? createTransport({ kind, baseUrl: url, registry }) : undefined;
  const clients: EnvClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = new EnvClient({ baseUrl: url, spec: spec as never, transport: kind, connection: owned, verify: i === 0 });
    await c.connect();
    await c.reset();
    clients.push(c);
  }
  const action = frameSize === undefined ? echoAction : create(FrameActionSchema, { size: frameSize });
  return {
    steps: clients.map((c) => () => c.step(action as never)),
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      owned?.close();
    },
  };
}

/** In-process: the full Connect stack through the in-memory router transport. */
export async function inProcessSessions(n: number): Promise<Sessions> {
  const router = createEnvironmentRouter(EchoEnvironment, { maxSessions: 20_000 });
  const clients: EnvClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await EnvClient.connect({ spec: echoSpec, transport: "in-process", router });
    await c.reset();
    clients.push(c);
  }
  return {
    steps: clients.map((c) => () => c.step(echoAction)),
    async close() {
      await Promise.all(clients.map((c) => c.close()));
      await router.close();
    },
  };
}

/** Direct: `Session.step` with an already decoded action (no protocol at all): the environment + session floor. */
export async function directSessions(n: number): Promise<Sessions> {
  const router = createEnvironmentRouter(EchoEnvironment, { maxSessions: 20_000 });
  const sessions = await Promise.all(Array.from({ length: n }, () => router.sessions.open()));
  await Promise.all(sessions.map((s) => s.reset({})));
  return {
    steps: sessions.map((s) => async () => s.step(echoAction)),
    close: () => router.close(),
  };
}

/** Connect unary over HTTP/1.1 (a `State` call: Step is streaming-only). */
export async function unaryH1Sessions(url: string, n: number): Promise<Sessions> {
  const client = createClient(EnvironmentService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push((await client.reset({})).sessionId);
  return {
    steps: ids.map((sessionId) => () => client.state({ sessionId })),
    async close() {
      await Promise.all(ids.map((sessionId) => client.closeSession({ sessionId })));
    },
  };
}

/** Floor: a raw `ws` ping-pong with a payload the size of an OpenEnv step frame. */
export async function wsFloorSessions(url: string, n: number, payloadBytes = 48): Promise<Sessions> {
  const payload = JSON.stringify({ type: "step", data: { message: "x".repeat(Math.max(0, payloadBytes - 33)) } });
  const sockets = await Promise.all(Array.from({ length: n }, () => openSocket(`${url.replace("http", "ws")}/`)));
  return {
    steps: sockets.map((ws) => () => roundTrip(ws, payload)),
    async close() {
      for (const ws of sockets) ws.close();
    },
  };
}

/** Floor: a raw HTTP/2 stream ping-pong (node:http2, no framework): one long-lived stream per session. */
export async function h2FloorSessions(url: string, n: number, shared: boolean, payloadBytes = 40): Promise<Sessions> {
  const payload = Buffer.alloc(payloadBytes, 7);
  const connections: http2.ClientHttp2Session[] = [];
  const connection = (): http2.ClientHttp2Session => {
    const c = http2.connect(url);
    connections.push(c);
    return c;
  };
  const one = shared ? connection() : undefined;
  const steps: StepFn[] = [];
  for (let i = 0; i < n; i++) {
    const stream = (one ?? connection()).request({ ":method": "POST", ":path": "/pingpong" }, { endStream: false });
    let wake: (() => void) | undefined;
    stream.on("data", () => wake?.());
    steps.push(
      () =>
        new Promise<void>((resolve) => {
          wake = resolve;
          stream.write(payload);
        }),
    );
  }
  return {
    steps,
    async close() {
      for (const c of connections) c.close();
    },
  };
}

export function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: 200 << 20, perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/** Sends one frame and resolves with the next frame received. */
export function roundTrip(ws: WebSocket, payload: string): Promise<WebSocket.RawData> {
  return new Promise((resolve) => {
    ws.once("message", resolve);
    ws.send(payload);
  });
}
