import { setMaxListeners } from "node:events";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Duplex } from "node:stream";
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { compressionGzip, connectNodeAdapter } from "@connectrpc/connect-node";
import { HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { replicaIdentity } from "../core/replica.js";
import { type OpenEnvSurfaceOptions, openEnvSurface } from "../openenv/server/index.js";
import { AuthGate, type AuthOptions, type Authorizer, createAuthorizer } from "./auth.js";
import { applyCors, type CorsOptions } from "./cors.js";
import { typeDecodeErrors } from "./decode-errors.js";
import { type EnvironmentSource, toFactory } from "./environment.js";
import { fastStepProtocol, STEP_PATH, serveFastStep } from "./fast-step.js";
import { type DualHandler, listenOnePort, type OnePortServer } from "./listener.js";
import type { McpSurfaceOptions } from "./mcp/streamable-http.js";
import type { ServerMetrics } from "./metrics.js";
import { createEnvironmentRouter, type EnvironmentRouter, type EnvironmentRouterOptions } from "./router.js";
import { serveStepHttp1 } from "./step-http1.js";
import { toolsOf } from "./tools/tool-environment.js";
import { type WebOptions, webSurface } from "./web-surface.js";

/** An HTTP request of either protocol version. */
export type ServerRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** An HTTP response of either protocol version. */
export type ServerResponse = http.ServerResponse | http2.Http2ServerResponse;

/** A surface served next to the RPC services on the same port (e.g. OpenEnv's HTTP/JSON + WebSocket API). */
export interface HttpSurface {
  /** Handles a non-RPC request; returns false to pass it on (404). */
  handle(req: ServerRequest, res: ServerResponse): boolean;
  /** Handles an HTTP/1.1 WebSocket upgrade; returns false to refuse it. */
  upgrade?(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Ends the surface's connections during shutdown. */
  close?(reason: { code: Code; message: string }): Promise<void>;
}

/** Options of {@link serve}; every field has a default. */
export interface ServeOptions extends EnvironmentRouterOptions {
  /** TCP port; 0 picks a free one. Default 8000, as OpenEnv. */
  readonly port?: number;
  /** Interface to bind. Default `127.0.0.1` (loopback only); `0.0.0.0` listens on all interfaces. */
  readonly host?: string;
  /** Connect interceptors applied to every RPC (e.g. authentication). */
  readonly interceptors?: Interceptor[];
  /** How long shutdown waits for running steps and open streams before cutting them. Default 10 s. */
  readonly shutdownTimeoutMs?: number;
  /** Close a connection that sends nothing for this long after connecting. Default 10 s. */
  readonly firstByteTimeoutMs?: number;
  /**
   * Time to receive a request's complete headers (HTTP/1.1: answered 408) or, on HTTP/2,
   * the client's SETTINGS after the preface (connection closed). Default 60 s.
   */
  readonly headersTimeoutMs?: number;
  /**
   * Close a connection with no request (HTTP/1.1) or no open stream (HTTP/2, with GOAWAY)
   * for this long. Default 65 s; 0 keeps idle connections open.
   */
  readonly keepAliveTimeoutMs?: number;
  /**
   * Serve binary gRPC, gRPC-Web and Connect Step streams with the built-in framing
   * instead of connect-node's generic pipeline (same replies, less CPU per step).
   * Default true; requests with compression, JSON or stream deadlines, and servers
   * with interceptors, always use connect-node.
   */
  readonly fastPath?: boolean;
  /** Require credentials on every call (bearer tokens or a check of your own); off by default. Health checks stay open. */
  readonly auth?: AuthOptions;
  /** Cross-origin access for browser clients; off by default. */
  readonly cors?: CorsOptions;
  /** Extra surfaces on the same port; `surfaces(router)` builds them once the router exists. */
  readonly surfaces?: (router: EnvironmentRouter) => HttpSurface[];
  /**
   * OpenEnv's HTTP/JSON and WebSocket protocol (`/reset`, `/step`, `/ws`, ...) on the
   * same port. Default true; `false` turns it off; an object configures it.
   */
  readonly openenv?: boolean | OpenEnvSurfaceOptions;
  /**
   * For a tool environment: real MCP over Streamable HTTP (MCP SDK) on `/mcp`,
   * next to OpenEnv's JSON-RPC there. Default true; `false` turns it off; an
   * object configures it.
   */
  readonly mcp?: boolean | McpSurfaceOptions;
  /** Serve cleartext HTTP/2 (bidi streaming). Default true; false serves HTTP/1.1 only. */
  readonly http2?: boolean;
  /**
   * This server's name among the replicas behind a load balancer (e.g. `r2`, or a
   * StatefulSet pod's name). Every session id then starts with `<replicaId>.<boot>.`,
   * so the balancer can route each call to the replica that holds its session; a call
   * for a session of a replica that is gone, or of an earlier life of this one, gets
   * NOT_FOUND with a `SessionLost` detail. See docs/deploy.md.
   */
  readonly replicaId?: string;
  /**
   * On close, first stop taking sessions (health NOT_SERVING, opens refused with
   * UNAVAILABLE so clients open elsewhere) and wait up to this long for the open
   * sessions to end, then shut down as usual. Default 0.
   */
  readonly drainTimeoutMs?: number;
  /**
   * Prometheus metrics at `GET /metrics` (sessions, calls, latency, errors by code,
   * resumes; see {@link ServerMetrics}), behind `auth` like every route but health.
   * Default true.
   */
  readonly metrics?: boolean;
  /**
   * The `/web` page to play and inspect the environment in a browser. Default: on,
   * except in OpenEnv's production mode (`openenv: { mode: "production" }`); an
   * object turns it on with options (a script registering your renderers).
   */
  readonly web?: boolean | WebOptions;
}

/** A running environment server. */
export interface EnvironmentServer extends AsyncDisposable {
  /** `http://host:port`, for clients. */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly router: EnvironmentRouter;
  /** The listener, for tests and metrics. */
  readonly listener: OnePortServer;
  /** The authorizer, when `auth` is configured (for surfaces that must apply the same check). */
  readonly authorizer: Authorizer | undefined;
  /**
   * Graceful shutdown: refuse new sessions, let running steps finish and deliver
   * their results, end streams with UNAVAILABLE, close every environment.
   */
  close(): Promise<void>;
}

/**
 * Serves an environment on one port: Connect, gRPC and gRPC-Web over cleartext
 * HTTP/2, Connect over HTTP/1.1, `grpc.health.v1.Health`, gRPC reflection, and
 * any extra surfaces (OpenEnv's HTTP/WebSocket API).
 *
 * @example
 * ```ts
 * const server = await serve(EchoEnvironment, { port: 8000 });
 * // ...
 * await server.close();
 * ```
 */
export async function serve(source: EnvironmentSource, options: ServeOptions = {}): Promise<EnvironmentServer> {
  const openenv = options.openenv ?? true;
  const protocols = options.protocols ?? ["connect", "grpc", "grpc-web", ...(openenv !== false ? ["openenv-http", "openenv-ws"] : [])];
  const mode = typeof openenv === "object" ? openenv.mode : undefined;
  const replica = options.replica ?? (options.replicaId === undefined ? undefined : replicaIdentity(options.replicaId));
  // Sessions are counted when scraped: the router (and its manager) is made with the metrics as its observer.
  const counts = { active: () => router.sessions.active, max: () => router.sessions.limits.maxSessions };
  // prom-client is loaded only by a server that serves metrics (its import costs a CLI command ~0.3 s).
  const metricsModule = options.metrics === false ? undefined : await import("./metrics.js");
  const metrics =
    metricsModule === undefined
      ? undefined
      : new metricsModule.ServerMetrics(
          {
            environment: toFactory(source as EnvironmentSource<DescMessage, DescMessage, DescMessage, DescMessage>).spec.name,
            replica: replica?.id,
          },
          counts,
        );
  const router: EnvironmentRouter = createEnvironmentRouter(source, {
    ...options,
    protocols,
    mode: options.mode ?? mode,
    replica,
    observer: options.observer ?? metrics,
  });
  const shutdown = new AbortController();
  // Every open fast-path Step stream listens for shutdown (and lets go when it ends): many
  // concurrent streams are normal, not the leak Node's warning after 10 listeners suspects.
  setMaxListeners(0, shutdown.signal);
  const surfaces = options.surfaces?.(router) ?? [];
  if (metrics !== undefined && metricsModule !== undefined) surfaces.push(metricsModule.metricsSurface(metrics));
  // A tool environment speaks MCP over Streamable HTTP on /mcp, ahead of OpenEnv's JSON-RPC there.
  // The module is loaded only then: the MCP SDK takes about a second to import.
  if (options.mcp !== false && toolsOf(router.spec) !== undefined) {
    const { mcpStreamableHttpSurface } = await import("./mcp/streamable-http.js");
    surfaces.push(
      mcpStreamableHttpSurface(router, { mode: options.mode ?? mode, ...(typeof options.mcp === "object" ? options.mcp : {}) }),
    );
  }
  if (openenv !== false) surfaces.push(openEnvSurface(router, openenv === true ? {} : openenv));
  const web = options.web ?? !(typeof openenv === "object" && openenv.mode === "production");
  if (web !== false) surfaces.push(webSurface(web === true ? {} : web));
  const notFound = (res: ServerResponse): void => {
    const body = JSON.stringify({ detail: "Not Found" });
    (res as http.ServerResponse).writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  };
  const gate = options.auth !== undefined ? new AuthGate(createAuthorizer(options.auth), options.auth) : undefined;
  const handler = connectNodeAdapter({
    routes: (r) => {
      router.routes(r);
      typeDecodeErrors(r.handlers, router.maxMessageBytes);
    },
    // gzip only: gRPC has no standard for br, so a br request is UNIMPLEMENTED (naming gzip), not a decoding failure.
    acceptCompression: [compressionGzip],
    shutdownSignal: shutdown.signal,
    readMaxBytes: router.maxMessageBytes,
    writeMaxBytes: router.maxMessageBytes,
    interceptors: options.interceptors ?? [],
    jsonOptions: { registry: router.registry },
    fallback(req, nodeRes) {
      const res = nodeRes as unknown as ServerResponse; // connect-node patches write()'s callback type only
      for (const surface of surfaces) if (surface.handle(req, res)) return;
      notFound(res);
    },
  }) as DualHandler;
  const host = options.host ?? "127.0.0.1";
  const fast = options.fastPath !== false && (options.interceptors ?? []).length === 0;
  const route: DualHandler = (req, res) => {
    if (fast && req.httpVersionMajor === 2 && req.url === STEP_PATH && req.method === "POST") {
      const protocol = fastStepProtocol(req.headers);
      if (protocol !== undefined)
        return serveFastStep((req as http2.Http2ServerRequest).stream, protocol, router, shutdown.signal, req.headers);
    }
    if (fast && req.httpVersionMajor === 1 && req.url === STEP_PATH && req.method === "POST") {
      // Browsers (the /web page): connect-node refuses bidi on HTTP/1.1, this serves it half-duplex.
      const protocol = fastStepProtocol(req.headers);
      if (protocol === "connect" || protocol === "grpc-web")
        return serveStepHttp1(req as http.IncomingMessage, res as http.ServerResponse, protocol, router, shutdown.signal);
    }
    handler(req, res);
  };
  // Credentials are checked once, on every request's headers, before any transport sees it.
  const guarded = gate?.requests(route) ?? route;
  const dual: DualHandler = (req, res) => {
    if (options.cors !== undefined && applyCors(options.cors, req, res)) return;
    guarded(req, res);
  };
  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    for (const surface of surfaces) if (surface.upgrade?.(req, socket, head)) return;
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  };
  const listener = await listenOnePort({
    port: options.port ?? 8000,
    host,
    handler: dual,
    firstByteTimeoutMs: options.firstByteTimeoutMs,
    headersTimeoutMs: options.headersTimeoutMs,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs,
    http2: options.http2,
    upgrade: gate?.upgrades(upgrade) ?? upgrade,
  });
  gate?.watch(listener);
  let closing: Promise<void> | undefined;
  const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
  const server: EnvironmentServer = {
    url: `http://${urlHost}:${listener.port}`,
    port: listener.port,
    host,
    router,
    listener,
    authorizer: gate?.authorizer,
    close() {
      closing ??= (async () => {
        const reason = { code: Code.Unavailable, message: "server shutting down" };
        const deadline = options.shutdownTimeoutMs ?? 10_000;
        // Balancers stop sending new sessions here at once; open ones may finish first.
        router.health.setAll(HealthCheckResponse_ServingStatus.NOT_SERVING);
        router.sessions.drain({
          code: Code.Unavailable,
          message: `${replica === undefined ? "the server" : `replica ${replica.id}`} is shutting down and takes no new sessions`,
        });
        await router.sessions.idle(options.drainTimeoutMs ?? 0);
        router.sessions.drain(reason);
        await listener.stopAccepting();
        shutdown.abort(new ConnectError(reason.message, reason.code));
        await Promise.all(surfaces.map((s) => s.close?.(reason)));
        await listener.drain(deadline);
        await router.close();
      })();
      return closing;
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}
