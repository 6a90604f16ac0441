import { HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { OpenEnvHttp } from "../openenv/client/connection.js";
import { type EnvironmentServer, type HttpSurface, type ServeOptions, serve } from "../server/serve.js";
import { type UpstreamEnvironment, type UpstreamOptions, upstreamEnvironment } from "./upstream-environment.js";

/** Options of {@link serveGateway}: the server's ({@link ServeOptions}) and the upstream's. */
export interface GatewayOptions extends Omit<ServeOptions, "openenv">, UpstreamOptions {
  /** How often the upstream's `/health` is checked (grpc.health.v1 and `/health` follow it). Default 5 s; 0 never. */
  readonly healthIntervalMs?: number;
}

/** A running gateway. */
export interface GatewayServer extends EnvironmentServer {
  /** The environment in front of which it runs: upstream URL, generated proto, runtime types. */
  readonly upstream: UpstreamEnvironment;
}

/**
 * Serves our whole contract in front of an OpenEnv HTTP/WebSocket server:
 * Connect, gRPC and gRPC-Web on one port, the Step stream with request ids,
 * in-stream reset, resume and exactly-once replies, Describe with the
 * descriptors generated from the upstream's `/schema`, grpc.health.v1 (following
 * the upstream's `/health`) and reflection. Each session holds one upstream
 * `/ws` session; upstream errors become typed codes (CAPACITY_REACHED →
 * RESOURCE_EXHAUSTED with CapacityInfo, VALIDATION_ERROR → INVALID_ARGUMENT
 * with field violations).
 *
 * @example
 * ```ts
 * const gateway = await serveGateway("http://127.0.0.1:8001", { port: 8000 });
 * const env = await EnvClient.connect({ baseUrl: gateway.url }); // typed from Describe
 * ```
 */
export async function serveGateway(upstreamUrl: string, options: GatewayOptions = {}): Promise<GatewayServer> {
  const upstream = await upstreamEnvironment(upstreamUrl, options);
  const http = new OpenEnvHttp(upstreamUrl, { headers: options.upstreamHeaders });
  let healthy = true;
  const probe: HttpSurface = {
    handle(req, res) {
      if (req.method !== "GET" || (req.url !== "/health" && req.url?.startsWith("/health?") !== true)) return false;
      const body = JSON.stringify({ status: healthy ? "healthy" : "unhealthy", upstream: upstreamUrl });
      res.writeHead(healthy ? 200 : 503, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return true;
    },
  };
  const server = await serve(upstream, {
    ...options,
    openenv: false,
    surfaces: (router) => [probe, ...(options.surfaces?.(router) ?? [])],
  });
  const interval = options.healthIntervalMs ?? 5_000;
  let timer: NodeJS.Timeout | undefined;
  if (interval > 0) {
    const check = (): void => {
      http.get("/health", {}, Math.max(1_000, interval)).then(
        () => setHealth(true),
        () => setHealth(false),
      );
    };
    const setHealth = (ok: boolean): void => {
      if (ok === healthy || timer === undefined) return;
      healthy = ok;
      server.router.health.setAll(ok ? Status.SERVING : Status.NOT_SERVING);
    };
    timer = setInterval(check, interval);
    timer.unref();
  }
  const close = server.close.bind(server);
  const gateway: GatewayServer = {
    ...server,
    upstream,
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      return close();
    },
    [Symbol.asyncDispose]() {
      return gateway.close();
    },
  };
  return gateway;
}
