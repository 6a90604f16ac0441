// OpenEnv's stateful HTTP routes for another worker's session: passed to the owner as they are.
import type * as http from "node:http";
import * as http2 from "node:http2";
import { ConnectError } from "@connectrpc/connect";
import type { ServerRequest, ServerResponse } from "../serve.js";
import { hopHeaders } from "./forwarded-headers.js";
import type { Peer, PeerDirectory } from "./peers.js";

const statefulPaths = new Set(["/reset", "/step", "/state"]);

/**
 * OpenEnv's stateful HTTP (`OpenEnv-Session-Id`) for another worker's session:
 * the request is passed to the owner as it is and its answer sent back.
 * Mounted before OpenEnv's own routes; passes everything else on.
 */
export function sessionProxy(directory: PeerDirectory): { handle(req: ServerRequest, res: ServerResponse): boolean } {
  return {
    handle(req, res) {
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      if (!statefulPaths.has(q < 0 ? url : url.slice(0, q))) return false;
      const v = req.headers["openenv-session-id"];
      const id = Array.isArray(v) ? v[0] : v;
      if (id === undefined || id === "" || id === "new") return false;
      const route = directory.route(id);
      if (route === undefined) return false;
      if ("lost" in route) {
        sendJson(res, 404, { detail: `session '${id}' was lost: ${route.lost}`, code: "not_found" });
        return true;
      }
      void proxyHttp(route.peer, req, res, `${route.peer.label}, which owns session ${id}`);
      return true;
    },
  };
}

async function proxyHttp(peer: Peer, req: ServerRequest, res: ServerResponse, owner: string): Promise<void> {
  const headers: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(":") || hopHeaders.has(name)) continue;
    headers[name] = value;
  }
  for (const name of ["content-type", "content-length", "content-encoding"]) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  let upstream: http2.ClientHttp2Stream;
  try {
    upstream = await peer.connection.request(req.method ?? "GET", req.url ?? "/", headers, {});
  } catch (err) {
    req.resume();
    sendJson(res, 503, { detail: `lost the connection to ${owner}: ${ConnectError.from(err).rawMessage}`, code: "unavailable" });
    return;
  }
  upstream.on("response", (h) => {
    const out: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(h)) {
      if (value === undefined || name.startsWith(":") || (hopHeaders.has(name) && name !== "content-type" && name !== "content-length"))
        continue;
      out[name] = value;
    }
    (res as http.ServerResponse).writeHead(Number(h[":status"] ?? 502), out);
    upstream.on("data", (chunk: Buffer) => {
      peer.connection.notifyResponseByteRead(upstream);
      (res as http.ServerResponse).write(chunk);
    });
    upstream.on("end", () => res.end());
  });
  const lost = (why: string): void => {
    if (!res.headersSent) sendJson(res, 503, { detail: `lost the connection to ${owner}: ${why}`, code: "unavailable" });
    else if (!res.writableEnded) (res as http.ServerResponse).destroy();
  };
  upstream.on("error", (err) => lost(err.message));
  // An owner that exits cleanly closes the stream with neither 'end' nor 'error'.
  upstream.on("close", () => {
    if (!upstream.readableEnded) lost("the worker closed the stream before answering");
  });
  res.on("close", () => {
    if (!upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
  });
  (req as NodeJS.ReadableStream).pipe(upstream);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  (res as http.ServerResponse).writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
