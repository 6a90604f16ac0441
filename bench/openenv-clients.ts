// OpenEnv-protocol clients for the benchmark: the same code drives our server or
// any other OpenEnv server (`--target`), e.g. OpenEnv's own Python server.
import * as http from "node:http";
import type { Sessions } from "./clients.js";
import { openSocket, roundTrip } from "./clients.js";

/** `/ws` sessions: `reset` once, then `step` frames with `{message}` (or a frame request). */
export async function wsSessions(baseUrl: string, n: number, data: Record<string, unknown> = { message: "ping" }): Promise<Sessions> {
  const url = `${baseUrl.replace(/^http/, "ws")}/ws`;
  const sockets = await Promise.all(Array.from({ length: n }, () => openSocket(url)));
  const step = JSON.stringify({ type: "step", data });
  for (const ws of sockets) {
    const reply = JSON.parse(String(await roundTrip(ws, JSON.stringify({ type: "reset", data: {} })))) as { type: string };
    if (reply.type !== "observation") throw new Error(`reset over /ws failed: ${JSON.stringify(reply)}`);
  }
  return {
    steps: sockets.map((ws) => async () => {
      const reply = await roundTrip(ws, step);
      // Check the first byte cheaply: an error frame would invalidate the figure.
      if (!String(reply).startsWith('{"type":"observation"')) throw new Error(`step over /ws failed: ${String(reply).slice(0, 200)}`);
    }),
    async close() {
      for (const ws of sockets) {
        ws.send(JSON.stringify({ type: "close" }));
        ws.close();
      }
    },
  };
}

/** One keep-alive HTTP/1.1 POST; the whole response body as text. */
export function post(
  agent: http.Agent,
  baseUrl: string,
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const u = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * HTTP `/step` sessions over keep-alive connections. Stateless (OpenEnv's default:
 * a fresh environment per request) or stateful (our opt-in `OpenEnv-Session-Id`).
 */
export async function httpSessions(
  baseUrl: string,
  n: number,
  stateful: boolean,
  data: Record<string, unknown> = { message: "ping" },
): Promise<Sessions> {
  const agents = Array.from({ length: n }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const ids: (string | undefined)[] = [];
  for (const agent of agents) {
    if (!stateful) {
      ids.push(undefined);
      continue;
    }
    const r = await post(agent, baseUrl, "/reset", "{}", { "openenv-session-id": "new" });
    const id = r.headers["openenv-session-id"];
    if (r.status !== 200 || typeof id !== "string") throw new Error(`stateful /reset failed: HTTP ${r.status} ${r.body.slice(0, 200)}`);
    ids.push(id);
  }
  const body = JSON.stringify({ action: data });
  return {
    steps: agents.map((agent, i) => async () => {
      const id = ids[i];
      const r = await post(agent, baseUrl, "/step", body, id === undefined ? {} : { "openenv-session-id": id });
      if (r.status !== 200) throw new Error(`/step failed: HTTP ${r.status} ${r.body.slice(0, 200)}`);
    }),
    async close() {
      for (const agent of agents) agent.destroy();
    },
  };
}
