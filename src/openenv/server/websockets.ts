import type * as http from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { CloseReason } from "../../core/session.js";
import type { OpenEnvContext } from "./context.js";
import { WsConnection, type WsOptions } from "./ws-connection.js";

/**
 * OpenEnv's WebSocket endpoints on the same port: `/ws` (the session protocol
 * the Python `EnvClient` speaks: one session per connection, strict
 * request/response) and `/mcp` (JSON-RPC frames, one session per connection).
 */
export class OpenEnvWebSockets {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<WsConnection>();
  private closing: CloseReason | undefined;

  constructor(private readonly ctx: OpenEnvContext) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: ctx.maxMessageBytes, perMessageDeflate: false, clientTracking: false });
  }

  /** Open connections, for tests and metrics. */
  get size(): number {
    return this.connections.size;
  }

  /** Takes an HTTP/1.1 upgrade for `/ws` or `/mcp`; false for other paths. */
  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? "/", "http://localhost");
    const kind = url.pathname === "/ws" ? "ws" : url.pathname === "/mcp" ? "mcp" : undefined;
    if (kind === undefined) return false;
    if (this.closing !== undefined) {
      socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return true;
    }
    const params = url.searchParams;
    const options: WsOptions = {
      extensions: flag(params.get("extensions")),
      // Our extensions of /ws: resume a session by id after a dropped connection, and ask for that.
      resume: kind === "ws" ? (params.get("session_id") ?? undefined) : undefined,
      resumable: kind === "ws" && flag(params.get("resumable")),
    };
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new WsConnection(this.ctx, ws, kind, options, () => this.connections.delete(conn));
      this.connections.add(conn);
      conn.start();
    });
    return true;
  }

  /** Ends every connection after its current request: close code 1001 with the reason. */
  async close(reason: CloseReason): Promise<void> {
    this.closing ??= reason;
    await Promise.all([...this.connections].map((c) => c.shutdown(reason)));
  }
}

function flag(value: string | null): boolean {
  return value !== null && value !== "0" && value !== "false";
}
