import { createHash, timingSafeEqual } from "node:crypto";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { contentTypeStreamRegExp, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { contentTypeRegExp as grpcContentType } from "@connectrpc/connect/protocol-grpc";
import { contentTypeRegExp as grpcWebContentType } from "@connectrpc/connect/protocol-grpc-web";
import { endOfStream, type StepWireProtocol } from "../protocol/step-wire.js";
import type { DualHandler, OnePortServer } from "./listener.js";
import { isWebPath } from "./web-surface.js";

/** Reads one request header by (lower-case) name. */
export type HeaderReader = (name: string) => string | undefined;

/** Authentication of every call: static bearer tokens, or a check of your own. */
export interface AuthOptions {
  /** Accepted bearer tokens (`Authorization: Bearer <token>`), compared in constant time. */
  readonly tokens?: readonly string[];
  /** A pluggable check, given the bearer token (if any) and the request headers; resolve true to accept. */
  readonly check?: (token: string | undefined, header: HeaderReader) => boolean | PromiseLike<boolean>;
  /**
   * Close a connection on which no request has passed the check within this long
   * after it connected, so that clients without credentials cannot hold connections
   * (file descriptors) open. Default 10 s; 0 disables.
   */
  readonly unauthenticatedConnectionMs?: number;
}

/** Decides whether a request may proceed. */
export interface Authorizer {
  /** Throws UNAUTHENTICATED (never echoing the token) when the request may not proceed. */
  authorize(header: HeaderReader): Promise<void>;
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Extracts the token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: HeaderReader): string | undefined {
  const value = header("authorization");
  if (value === undefined) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(value.trim());
  return m?.[1];
}

/** Builds an authorizer; tokens are hashed once so comparisons take the same time whatever the input. */
export function createAuthorizer(options: AuthOptions): Authorizer {
  const hashes = (options.tokens ?? []).map(digest);
  if (hashes.length === 0 && options.check === undefined) throw new TypeError("auth needs tokens or a check function");
  return {
    async authorize(header) {
      const token = bearerToken(header);
      let ok = false;
      if (token !== undefined && hashes.length > 0) {
        const h = digest(token);
        // Compare against every token, without an early exit, so timing reveals nothing.
        for (const expected of hashes) ok = timingSafeEqual(h, expected) || ok;
      }
      if (!ok && options.check !== undefined) ok = await options.check(token, header);
      if (!ok) {
        throw new ConnectError(
          token === undefined ? "missing credentials: send 'Authorization: Bearer <token>'" : "invalid credentials",
          Code.Unauthenticated,
        );
      }
    },
  };
}

/**
 * Paths that never need credentials: health checks (load balancers and providers poll
 * them), and the web page's static files (the page asks for the token).
 */
function isOpenPath(url: string | undefined): boolean {
  if (url === undefined) return false;
  return url === "/health" || url.startsWith("/health?") || url.startsWith("/grpc.health.v1.Health/") || isWebPath(url);
}

/** `/package.Service/Method`: an RPC, refused in its protocol's shape; anything else is OpenEnv's HTTP API. */
const rpcPath = /^\/[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/;

type ServerRequest = http.IncomingMessage | http2.Http2ServerRequest;
type ServerResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * The server's one credentials check, in front of every transport: a request is
 * checked on its headers, before its body is read, and refused in the shape its
 * client understands (gRPC and gRPC-Web status, a Connect error, OpenEnv's
 * `{"detail": ...}` with HTTP 401, or a refused WebSocket handshake). It also cuts
 * connections that never authenticate.
 */
export class AuthGate {
  private readonly trusted = new WeakSet<object>();
  private readonly boundMs: number;

  constructor(
    readonly authorizer: Authorizer,
    options: AuthOptions,
  ) {
    this.boundMs = options.unauthenticatedConnectionMs ?? 10_000;
  }

  /** Starts watching the listener's connections: the ones that never authenticate are closed after the bound. */
  watch(listener: OnePortServer): void {
    if (this.boundMs <= 0) return;
    listener.h1.on("connection", (socket: Socket) => this.arm(socket, () => socket.destroy()));
    listener.h2.on("session", (session: http2.ServerHttp2Session) => this.arm(session, () => session.destroy()));
  }

  /** Wraps a request handler: it runs only for requests whose headers pass the check. */
  requests(next: DualHandler): DualHandler {
    return (req, res) => {
      if (isOpenPath(req.url)) return next(req, res);
      const connection = connectionOf(req);
      this.authorizer.authorize(headerReader(req.headers)).then(
        () => {
          this.trusted.add(connection);
          next(req, res);
        },
        (err: unknown) => refuse(req, res, ConnectError.from(err, Code.Internal)),
      );
    };
  }

  /** Wraps an HTTP/1.1 upgrade handler: the WebSocket handshake is refused before any session exists. */
  upgrades(next: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void) {
    return (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
      this.authorizer.authorize(headerReader(req.headers)).then(
        () => {
          this.trusted.add(socket);
          next(req, socket, head);
        },
        () => {
          socket.end(
            'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="openenv"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n',
          );
        },
      );
    };
  }

  private arm(connection: Socket | http2.ServerHttp2Session, cut: () => void): void {
    const timer = setTimeout(() => {
      if (!this.trusted.has(connection)) cut();
    }, this.boundMs);
    timer.unref();
    connection.once("close", () => clearTimeout(timer));
  }
}

function connectionOf(req: ServerRequest): object {
  return req.httpVersionMajor === 2 ? ((req as http2.Http2ServerRequest).stream.session ?? req.socket) : req.socket;
}

function headerReader(headers: http.IncomingHttpHeaders): HeaderReader {
  return (name) => {
    const v = headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  };
}

/** Answers a refused request in its protocol's error shape. */
function refuse(req: ServerRequest, res: ServerResponse, err: ConnectError): void {
  const path = req.url?.split("?", 1)[0] ?? "/";
  const type = String(req.headers["content-type"] ?? "");
  const h1 = req.httpVersionMajor !== 2;
  if (h1) {
    // The body is never read: the connection cannot carry another request after this answer.
    res.setHeader("connection", "close");
  }
  if (!rpcPath.test(path)) {
    // OpenEnv's JSON error shape, with the status every HTTP client understands.
    res.setHeader("www-authenticate", 'Bearer realm="openenv"');
    send(res, 401, "application/json", Buffer.from(JSON.stringify({ detail: err.rawMessage })));
    return;
  }
  // gRPC, gRPC-Web and Connect streams end with the status in their own way; Connect unary is a 401.
  const protocol: StepWireProtocol | undefined = grpcWebContentType.test(type)
    ? "grpc-web"
    : grpcContentType.test(type)
      ? "grpc"
      : contentTypeStreamRegExp.test(type)
        ? "connect"
        : undefined;
  if (protocol === undefined) {
    send(res, 401, "application/json", errorToJsonBytes(err, undefined));
    return;
  }
  const end = endOfStream(protocol, err);
  if ("body" in end) {
    send(res, 200, protocol === "connect" ? type : "application/grpc-web+proto", end.body);
    return;
  }
  const status: http.OutgoingHttpHeaders = {};
  end.trailers.forEach((value, key) => {
    status[key] = value;
  });
  const stream = (req as http2.Http2ServerRequest).stream;
  if (h1 || stream.destroyed) {
    for (const [key, value] of Object.entries(status)) res.setHeader(key, value as string);
    send(res, 200, "application/grpc+proto", new Uint8Array(0));
  } else {
    // Trailers-only: the status goes in the HEADERS frame that ends the stream.
    stream.respond({ ...res.getHeaders(), ":status": 200, "content-type": "application/grpc+proto", ...status }, { endStream: true });
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: Uint8Array): void {
  if (res.headersSent) return;
  (res as http.ServerResponse).writeHead(status, { "content-type": contentType, "content-length": body.byteLength });
  res.end(body);
}
