import type { Registry } from "@bufbuild/protobuf";
import { createRouterTransport, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { EnvironmentRouter } from "../server/router.js";
import type { Http2StepConnection } from "./step-streams.js";

/** The RPC transports an {@link EnvClient} can use. */
export type RpcTransportKind = "connect" | "connect-json" | "grpc" | "grpc-web" | "in-process";

/** How to build a transport. */
export interface TransportOptions {
  readonly kind: RpcTransportKind;
  /** Server URL, e.g. `http://127.0.0.1:8000` (not needed in-process). */
  readonly baseUrl?: string | undefined;
  /** The environment router to call in-process. */
  readonly router?: EnvironmentRouter | undefined;
  /** JSON registry for `Any` payloads (Connect JSON). */
  readonly registry?: Registry | undefined;
  readonly interceptors?: Interceptor[] | undefined;
  /** Largest message accepted from the server. Default 100 MiB. */
  readonly readMaxBytes?: number | undefined;
}

/** A transport and how to release what it holds (its HTTP/2 connection). */
export interface OwnedTransport {
  readonly transport: Transport;
  readonly kind: RpcTransportKind;
  /** The HTTP/2 connection, for binary protocols, on which Step streams may be written directly. */
  readonly direct?: Http2StepConnection;
  close(): void;
}

/** Builds a Connect transport of the given kind over HTTP/2 (or in memory). */
export function createTransport(options: TransportOptions): OwnedTransport {
  const interceptors = options.interceptors ?? [];
  const readMaxBytes = options.readMaxBytes ?? 100 * 1024 * 1024;
  if (options.kind === "in-process") {
    const router = options.router;
    if (router === undefined) throw new TypeError("the in-process transport needs the server's router (options.router)");
    return {
      transport: createRouterTransport((r) => router.routes(r), {
        transport: { interceptors, jsonOptions: { registry: router.registry } },
        router: { jsonOptions: { registry: router.registry } },
      }),
      kind: "in-process",
      close() {},
    };
  }
  const baseUrl = options.baseUrl;
  if (baseUrl === undefined) throw new TypeError(`the ${options.kind} transport needs a baseUrl`);
  // Owning the HTTP/2 session lets close() end the connection, so a finished script can exit.
  const sessionManager = new Http2SessionManager(baseUrl, { pingIdleConnection: false, idleConnectionTimeoutMs: 60_000 });
  const common = {
    baseUrl,
    httpVersion: "2" as const,
    sessionManager,
    interceptors,
    readMaxBytes,
    jsonOptions: options.registry !== undefined ? { registry: options.registry } : undefined,
  };
  let transport: Transport;
  switch (options.kind) {
    case "connect":
      transport = createConnectTransport({ ...common, useBinaryFormat: true });
      break;
    case "connect-json":
      transport = createConnectTransport({ ...common, useBinaryFormat: false });
      break;
    case "grpc":
      transport = createGrpcTransport(common);
      break;
    case "grpc-web":
      transport = createGrpcWebTransport({ ...common, useBinaryFormat: true });
      break;
  }
  const direct: Http2StepConnection | undefined =
    options.kind === "connect-json" ? undefined : { sessions: sessionManager, protocol: options.kind, baseUrl, interceptors, readMaxBytes };
  return { transport, kind: options.kind, direct, close: () => abortQuietly(sessionManager) };
}

/**
 * `Http2SessionManager.abort()` swallows one 'error' of the session it destroys,
 * but a session that already failed (e.g. an HTTP/2 client talking to an
 * HTTP/1.1-only server) emits a second one, which would crash the process. A
 * lasting no-op listener on the live session (connect-node keeps it in its
 * state as `s.conn`) absorbs it; the failure itself was already reported to
 * the calls that hit it.
 */
function abortQuietly(manager: Http2SessionManager): void {
  const conn = (manager as unknown as { s?: { conn?: unknown } }).s?.conn;
  if (conn !== null && typeof conn === "object" && typeof (conn as { on?: unknown }).on === "function") {
    (conn as { on(event: "error", listener: () => void): void }).on("error", () => {});
  }
  manager.abort();
}
