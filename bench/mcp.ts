// `npx tsx bench/mcp.ts [--quick] [--seconds S] [--out DIR]`
// Tool-call steps/s of the MCP echo environment (mcp-echo: OpenEnv's echo_env) over
// the three ways a tool call reaches it (the Step stream, OpenEnv's /ws, real MCP
// over Streamable HTTP) plus OpenEnv's JSON-RPC POST /mcp, each beside a floor
// measured in the same run: the plain echo environment's step over the same
// transport (Step stream, /ws), or the raw protocol (ws ping-pong; a keep-alive
// HTTP/1.1 POST). OpenEnv's own MCP echo server does about 350 tool-call steps/s
// over /ws on this machine type (its Python server cannot run here); that anchor
// is printed beside the figures, not measured.

import { mkdirSync, writeFileSync } from "node:fs";
import * as http from "node:http";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ToolActionSchema } from "../gen/openenv/v1/tools_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { mcpEchoSpec } from "../src/envs/mcp_echo/environment.js";
import { rpcSessions, type Sessions, wsFloorSessions } from "./clients.js";
import { closedLoop, quantile, startServer } from "./harness.js";
import { post as postHttp, wsSessions } from "./openenv-clients.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    sessions: { type: "string", default: "1,16" },
    out: { type: "string", default: "bench/results" },
  },
});
const quick = args.quick === true;
const seconds = args.seconds !== undefined ? Number(args.seconds) : quick ? 0.3 : 4;
const warmup = quick ? 20 : 300;
const sessionCounts = (args.sessions ?? "1,16").split(",").map(Number);
/** OpenEnv's MCP echo over /ws on this machine type, steps/s (the issue's anchor; not measured here). */
const OPENENV_ANCHOR = 350;

const callAction = create(ToolActionSchema, {
  kind: { case: "callTool", value: { toolName: "echo_message", arguments: { message: "ping" } } },
});

/** Step stream sessions stepping `call_tool echo_message` (EnvClient over Connect, one HTTP/2 connection). */
async function toolStepSessions(url: string, n: number): Promise<Sessions> {
  const clients: EnvClient[] = [];
  for (let i = 0; i < n; i++) {
    const c = await EnvClient.connect({ baseUrl: url, spec: mcpEchoSpec as never, transport: "connect", verify: i === 0 });
    await c.reset();
    clients.push(c);
  }
  return {
    steps: clients.map((c) => async () => {
      const r = await c.step(callAction as never);
      if ((r.observation as unknown as { kind: { case: string } }).kind.case !== "callTool") throw new Error("not a tool result");
    }),
    async close() {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** The MCP SDK's own client over Streamable HTTP: `tools/call echo_message`, one MCP session each. */
async function streamableHttpSessions(url: string, n: number): Promise<Sessions> {
  const clients: { client: Client; transport: StreamableHTTPClientTransport }[] = [];
  for (let i = 0; i < n; i++) {
    const client = new Client({ name: "bench", version: "1.0.0" });
    const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`));
    await client.connect(transport);
    clients.push({ client, transport });
  }
  return {
    steps: clients.map(({ client }) => async () => {
      const r = await client.callTool({ name: "echo_message", arguments: { message: "ping" } });
      if (r.isError) throw new Error("tool error");
    }),
    async close() {
      for (const c of clients) {
        await c.transport.terminateSession().catch(() => {});
        await c.client.close();
      }
    },
  };
}

/**
 * Streamable HTTP with a plain keep-alive HTTP/1.1 client (POST with `Accept: application/json,
 * text/event-stream`, the result read from the SSE event): the server's cost without the SDK client's.
 */
async function rawStreamableSessions(url: string, n: number): Promise<Sessions> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const sse = { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" };
  const sessions: string[] = [];
  for (let i = 0; i < n; i++) {
    const init = await postFull(
      agent,
      url,
      {
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } },
      },
      sse,
    );
    const sid = String(init.headers["mcp-session-id"]);
    await postFull(agent, url, { jsonrpc: "2.0", method: "notifications/initialized" }, { ...sse, "mcp-session-id": sid });
    sessions.push(sid);
  }
  return {
    steps: sessions.map((sid) => {
      let id = 0;
      const headers = { ...sse, "mcp-session-id": sid };
      return async () => {
        const body = { jsonrpc: "2.0", id: ++id, method: "tools/call", params: { name: "echo_message", arguments: { message: "ping" } } };
        const r = await postFull(agent, url, body, headers);
        if (!r.body.includes('"result"')) throw new Error(r.body.slice(0, 200));
      };
    }),
    async close() {
      agent.destroy();
    },
  };
}

/** OpenEnv's JSON-RPC on POST /mcp in a session (its MCPToolClient's production path), keep-alive HTTP/1.1. */
async function jsonRpcSessions(url: string, n: number): Promise<Sessions> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = JSON.parse(await post(agent, url, { jsonrpc: "2.0", method: "openenv/session/create", id: 0 })) as {
      result: { session_id: string };
    };
    ids.push(r.result.session_id);
  }
  return {
    steps: ids.map((sid) => {
      let id = 0;
      return async () => {
        const body = {
          jsonrpc: "2.0",
          method: "tools/call",
          params: { name: "echo_message", arguments: { message: "ping" }, session_id: sid },
          id: ++id,
        };
        const text = await post(agent, url, body);
        if (!text.includes('"result"')) throw new Error(text.slice(0, 200));
      };
    }),
    async close() {
      for (const sid of ids)
        await post(agent, url, { jsonrpc: "2.0", method: "openenv/session/close", params: { session_id: sid }, id: 0 });
      agent.destroy();
    },
  };
}

/** A raw keep-alive HTTP/1.1 POST round trip to a bare Node server: the floor of one request per call. */
async function httpFloorSessions(n: number): Promise<Sessions & { server: http.Server }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: n });
  return {
    server,
    steps: Array.from({ length: n }, () => async () => {
      await post(agent, url, {
        jsonrpc: "2.0",
        method: "tools/call",
        params: { name: "echo_message", arguments: { message: "ping" } },
        id: 1,
      });
    }),
    async close() {
      agent.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function post(agent: http.Agent, url: string, body: unknown): Promise<string> {
  return (await postFull(agent, url, body, {})).body;
}

function postFull(
  agent: http.Agent,
  url: string,
  body: unknown,
  headers: Record<string, string>,
): Promise<{ headers: http.IncomingHttpHeaders; body: string }> {
  return postHttp(agent, url, "/mcp", JSON.stringify(body), headers);
}

interface Row {
  name: string;
  sessions: number;
  stepsPerSec: number;
  p50Us: number;
  p99Us: number;
  floor: string | null;
  vsFloor: number | null;
  vsOpenEnv: number | null;
}

const rows: Row[] = [];
const floors = new Map<string, number>();

async function measure(name: string, n: number, open: () => Promise<Sessions>, floor?: string, isFloor = false): Promise<void> {
  const sessions = await open();
  try {
    const r = await closedLoop(sessions.steps, seconds, warmup);
    const stepsPerSec = r.steps / r.seconds;
    const key = `${name}|${n}`;
    if (isFloor) floors.set(key, stepsPerSec);
    const floorRate = floor === undefined ? undefined : floors.get(`${floor}|${n}`);
    rows.push({
      name,
      sessions: n,
      stepsPerSec,
      p50Us: quantile(r.latencies, 0.5),
      p99Us: quantile(r.latencies, 0.99),
      floor: floor ?? null,
      vsFloor: floorRate === undefined ? null : stepsPerSec / floorRate,
      vsOpenEnv: isFloor ? null : stepsPerSec / OPENENV_ANCHOR,
    });
    process.stderr.write(`${name} ×${n}: ${Math.round(stepsPerSec)} steps/s\n`);
  } finally {
    await sessions.close();
  }
}

const mcpServer = await startServer("mcp-echo");
const echoServer = await startServer("echo");
const wsFloor = await startServer("ws-floor");
try {
  for (const n of sessionCounts) {
    await measure("floor: raw ws ping-pong", n, () => wsFloorSessions(wsFloor.url, n), undefined, true);
    await measure("floor: raw HTTP/1.1 POST (keep-alive)", n, () => httpFloorSessions(n), undefined, true);
    await measure("floor: echo step, Step stream (Connect)", n, () => rpcSessions(echoServer.url, "connect", n, true), undefined, true);
    await measure("floor: echo step, OpenEnv /ws", n, () => wsSessions(echoServer.url, n), undefined, true);
    await measure(
      "tool call, Step stream (Connect)",
      n,
      () => toolStepSessions(mcpServer.url, n),
      "floor: echo step, Step stream (Connect)",
    );
    await measure(
      "tool call, OpenEnv /ws step",
      n,
      () => wsSessions(mcpServer.url, n, { type: "call_tool", tool_name: "echo_message", arguments: { message: "ping" } }),
      "floor: echo step, OpenEnv /ws",
    );
    await measure(
      "tool call, MCP Streamable HTTP (SDK client)",
      n,
      () => streamableHttpSessions(mcpServer.url, n),
      "floor: raw HTTP/1.1 POST (keep-alive)",
    );
    await measure(
      "tool call, MCP Streamable HTTP (plain HTTP client)",
      n,
      () => rawStreamableSessions(mcpServer.url, n),
      "floor: raw HTTP/1.1 POST (keep-alive)",
    );
    await measure(
      "tool call, OpenEnv JSON-RPC POST /mcp",
      n,
      () => jsonRpcSessions(mcpServer.url, n),
      "floor: raw HTTP/1.1 POST (keep-alive)",
    );
  }
} finally {
  await Promise.all([mcpServer.stop(), echoServer.stop(), wsFloor.stop()]);
}

const fmt = (n: number | null, digits = 0): string => (n === null || Number.isNaN(n) ? "" : n.toFixed(digits));
const lines = [
  `MCP tool-call benchmark: Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), ${seconds} s per case, client and server in separate processes.`,
  `OpenEnv's MCP echo over /ws on this machine type: about ${OPENENV_ANCHOR} steps/s (anchor, not measured here).`,
  "",
  "| case | sessions | steps/s | p50 µs | p99 µs | vs floor | vs OpenEnv /ws anchor |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.sessions} | ${fmt(r.stepsPerSec)} | ${fmt(r.p50Us)} | ${fmt(r.p99Us)} | ${r.vsFloor === null ? "" : `${fmt(r.vsFloor, 2)} × (${r.floor?.replace("floor: ", "")})`} | ${r.vsOpenEnv === null ? "" : `${fmt(r.vsOpenEnv, 1)} ×`} |`,
  ),
];
process.stdout.write(`${lines.join("\n")}\n`);
mkdirSync(args.out ?? "bench/results", { recursive: true });
const file = `${args.out ?? "bench/results"}/mcp-${new Date().toISOString().replace(/[:.]/g, "-")}.json`;
writeFileSync(file, `${JSON.stringify({ seconds, anchor: OPENENV_ANCHOR, rows }, null, 2)}\n`);
process.stderr.write(`wrote ${file}\n`);
