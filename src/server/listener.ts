import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { Duplex } from "node:stream";

/** A request handler for both HTTP/1.1 and HTTP/2 requests. */
export type DualHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** Options of {@link listenOnePort}. */
export interface OnePortOptions {
  readonly port: number;
  readonly host: string;
  readonly handler: DualHandler;
  /** HTTP/1.1 `Upgrade` requests (WebSocket). Unset: 400. */
  readonly upgrade?: ((req: http.IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  /** Close a connection that sends nothing for this long before its first bytes. */
  readonly firstByteTimeoutMs?: number;
  /**
   * Time to receive a request's complete headers (HTTP/1.1: 408 after it), or, on
   * HTTP/2, the client's SETTINGS frame after the preface (the connection is closed).
   */
  readonly headersTimeoutMs?: number;
  /** HTTP/1.1: time to receive the complete request. 0 disables (needed for long-polling clients). */
  readonly requestTimeoutMs?: number;
  /** Close connections with no open request (HTTP/1.1) or stream (HTTP/2, with GOAWAY) after this long. 0 disables. */
  readonly keepAliveTimeoutMs?: number;
  /** Largest HTTP/2 frame-header block etc.: the http2 `maxSessionMemory` in MB. */
  readonly maxSessionMemoryMb?: number;
  /** Serve cleartext HTTP/2 (h2c). Default true; false answers everything as HTTP/1.1, like an HTTP/1.1-only server or proxy. */
  readonly http2?: boolean;
}

/** A listening one-port server. */
export interface OnePortServer {
  readonly port: number;
  readonly host: string;
  readonly h1: http.Server;
  readonly h2: http2.Http2Server;
  /** Open connections (both protocols), for tests and metrics. */
  connections(): number;
  /**
   * Serves a connection accepted elsewhere (e.g. on a private unix socket) like one of
   * its own: protocol sniffing (HTTP/2 even when `http2` is off), and drain() waits for it too.
   */
  adopt(socket: net.Socket): void;
  /** Stops accepting connections; in-flight requests continue. */
  stopAccepting(): Promise<void>;
  /** Asks connections to finish (HTTP/2 GOAWAY, idle HTTP/1.1 closed), then destroys what is left after `deadlineMs`. */
  drain(deadlineMs: number): Promise<void>;
}

const PREFACE = "PRI ";

/** An HTTP/1.1 error answer for a request Node's parser refused, with OpenEnv's JSON error shape. */
function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const [status, text] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout"]
        : err.code === "HPE_CHUNK_EXTENSIONS_OVERFLOW"
          ? [413, "Payload Too Large"]
          : [400, "Bad Request"];
  const reason = status === 408 ? "the request headers did not arrive in time" : ((err as { reason?: string }).reason ?? err.message);
  const body = JSON.stringify({ detail: `${text}: ${reason}` });
  return `HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * Closes an HTTP/2 connection that never completes its preface (no SETTINGS from
 * the client within `prefaceMs`: destroyed) or that has no open stream for
 * `idleMs` (GOAWAY, so a well-behaved client reconnects on its next call).
 */
function watchHttp2Session(session: http2.Http2Session, prefaceMs: number, idleMs: number): void {
  let streams = 0;
  let idle: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (idleMs <= 0) return;
    idle = setTimeout(() => {
      if (streams === 0 && !session.closed && !session.destroyed) session.close();
    }, idleMs);
    idle.unref();
  };
  if (prefaceMs > 0) {
    const preface = setTimeout(() => {
      if (!session.destroyed) session.destroy();
    }, prefaceMs);
    preface.unref();
    session.once("remoteSettings", () => clearTimeout(preface));
    session.once("close", () => clearTimeout(preface));
  }
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    streams++;
    if (idle !== undefined) clearTimeout(idle);
    idle = undefined;
    stream.once("close", () => {
      if (--streams === 0) arm();
    });
  });
  session.once("close", () => {
    if (idle !== undefined) clearTimeout(idle);
  });
  arm();
}

/**
 * Listens on one TCP port for cleartext HTTP/2 (prior knowledge: gRPC, Connect,
 * gRPC-Web, bidi streaming) and HTTP/1.1 (Connect unary, JSON routes, WebSocket):
 * Node cannot serve both without TLS/ALPN, so the first 4 bytes decide.
 */
export async function listenOnePort(options: OnePortOptions): Promise<OnePortServer> {
  const headersTimeout = options.headersTimeoutMs ?? 60_000;
  const keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  const h1 = http.createServer(
    {
      noDelay: true,
      headersTimeout,
      requestTimeout: options.requestTimeoutMs ?? 0,
      keepAliveTimeout,
      // Node looks for expired headers only this often (default 30 s): a short
      // headersTimeout would otherwise hold a slowloris connection for up to 30 s more.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(headersTimeout / 4))),
    },
    options.handler as http.RequestListener,
  );
  // h1 never listen()s itself; Node starts connection tracking (headersTimeout,
  // closeAllConnections) on this event.
  h1.emit("listening");
  const h2 = http2.createServer(
    { maxSessionMemory: options.maxSessionMemoryMb ?? 64, settings: { enableConnectProtocol: false } },
    options.handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  const h2Sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    h2Sessions.add(session);
    session.once("close", () => h2Sessions.delete(session));
    session.on("error", () => session.destroy());
    watchHttp2Session(session, headersTimeout, keepAliveTimeout);
  });
  const sockets = new Set<net.Socket>();
  h1.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (options.upgrade !== undefined && req.headers.upgrade?.toLowerCase() === "websocket") {
      options.upgrade(req, socket, head);
      return;
    }
    // e.g. "Upgrade: h2c" from `curl --http2`: Node cannot upgrade; prior knowledge works.
    socket.end(
      "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\nUpgrade not supported; use HTTP/2 with prior knowledge (curl --http2-prior-knowledge) or HTTP/1.1\n",
    );
  });
  h1.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's default handler: answer only if no response has started on this socket
    // (a second status line after a response would corrupt the client's stream).
    const inFlight = (socket as { _httpMessage?: http.ServerResponse | null })._httpMessage;
    if (socket.writable && (inFlight === undefined || inFlight === null || !inFlight.headersSent)) {
      socket.end(clientErrorResponse(err));
    } else {
      socket.destroy();
    }
  });

  const firstByteTimeout = options.firstByteTimeoutMs ?? 10_000;
  const accept = (socket: net.Socket, allowH2 = options.http2 !== false): void => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    if (firstByteTimeout > 0) socket.setTimeout(firstByteTimeout, () => socket.destroy());
    const sniff = (): void => {
      const head: Buffer | null = socket.read(4); // null until 4 bytes are buffered
      if (head === null) return;
      socket.off("readable", sniff);
      socket.setTimeout(0);
      socket.unshift(head);
      (allowH2 && head.toString("latin1") === PREFACE ? h2 : h1).emit("connection", socket);
    };
    socket.on("readable", sniff);
  };
  const mux = net.createServer({ noDelay: true }, (socket) => accept(socket));
  await new Promise<void>((resolve, reject) => {
    mux.once("error", reject);
    mux.listen(options.port, options.host, () => {
      mux.off("error", reject);
      resolve();
    });
  });
  const address = mux.address() as net.AddressInfo;
  return {
    port: address.port,
    host: options.host,
    h1,
    h2,
    connections: () => sockets.size,
    adopt: (socket) => accept(socket, true),
    stopAccepting: async () => {
      // close()'s callback waits for every connection; draining is drain()'s job.
      if (mux.listening) mux.close();
    },
    async drain(deadlineMs: number) {
      for (const s of h2Sessions) s.close();
      h1.closeIdleConnections();
      const deadline = Date.now() + deadlineMs;
      while (sockets.size > 0 && Date.now() < deadline) {
        h1.closeIdleConnections();
        await new Promise((r) => setTimeout(r, 10));
      }
      for (const s of h2Sessions) s.destroy();
      h1.closeAllConnections();
      for (const s of sockets) s.destroy();
    },
  };
}
