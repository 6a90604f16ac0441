// A benchmark server in its own process, so client and server costs are measured
// apart. Modes: `echo`, `mcp-echo`, `frames`, `coding` (the real server), `ws-floor`, `h2-floor` (bare
// Node, no framework). Prints `port=N`, answers IPC {type:"stats"} with CPU and RSS.
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { CodingEnvironment } from "../src/envs/coding/environment.js";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { McpEchoEnvironment } from "../src/envs/mcp_echo/environment.js";
import { serve } from "../src/server/serve.js";
import { FramesEnvironment } from "./frames-env.js";

const mode = process.argv[2] ?? "echo";
let port: number;
let stop: () => Promise<void>;

if (mode === "ws-floor") {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 200 << 20 });
  await new Promise((r) => wss.once("listening", r));
  wss.on("connection", (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  port = (wss.address() as AddressInfo).port;
  stop = () => new Promise((r) => wss.close(() => r()));
} else if (mode === "h2-floor") {
  const server = http2.createServer();
  // One long-lived stream per client: every DATA chunk is echoed back on it.
  server.on("stream", (stream) => {
    stream.respond({ ":status": 200 });
    stream.on("data", (chunk: Buffer) => stream.write(chunk));
    stream.on("end", () => stream.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
  stop = () => new Promise((r) => server.close(() => r()));
} else {
  const env =
    mode === "frames"
      ? FramesEnvironment
      : mode === "coding"
        ? CodingEnvironment
        : mode === "mcp-echo"
          ? McpEchoEnvironment
          : EchoEnvironment;
  // `--replica-id rN`: one of several replicas behind a balancer (bench/balancer.ts).
  const at = process.argv.indexOf("--replica-id");
  const replicaId = at > 0 ? process.argv[at + 1] : undefined;
  const server = await serve(env, { port: 0, maxSessions: 20_000, idleTimeoutMs: 0, resumeGraceMs: 0, replicaId });
  port = server.port;
  stop = () => server.close();
}

process.on("message", (msg: { type: string }) => {
  if (msg.type === "stats") {
    process.send?.({ type: "stats", cpu: process.cpuUsage(), rss: process.memoryUsage().rss });
  } else if (msg.type === "gc") {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ type: "gc" });
  } else if (msg.type === "stop") {
    void stop().then(() => process.exit(0));
  }
});
process.send?.({ type: "ready", port });
