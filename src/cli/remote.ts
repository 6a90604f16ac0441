import { connect as tcpConnect } from "node:net";
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { EnvClient, type EnvTransportKind } from "../client/env-client.js";
import { GenericEnvClient } from "../client/generic-client.js";
import { NotOpenEnvError, ServerNotRunningError, secondsOption, UsageError } from "./common.js";

import { GenericRemote, TypedRemote } from "./remote-sessions.js";
/**
 * How `openenv reset|step|state|close` reach a server: the transport choice of
 * `EnvClient` (the Step stream over HTTP/2, else OpenEnv's HTTP or `/ws`), typed
 * by the server's Describe; plain JSON (`GenericEnvClient`) for an OpenEnv
 * server that has no Describe (OpenEnv's Python servers).
 */

export const protocols = ["auto", "connect", "grpc", "grpc-web", "connect-json", "websocket", "http"] as const;

/** The options every remote command takes (`parseArgs` form). */
export const remoteOptions = {
  url: { type: "string" },
  protocol: { type: "string", default: "auto" },
  token: { type: "string" },
  timeout: { type: "string" },
  session: { type: "string" },
} as const;

/** Their help lines. */
export const remoteHelp = `  --url URL          the server (required), e.g. http://127.0.0.1:8000
  --protocol P       auto (default: the Step stream over HTTP/2 when the server
                     speaks it, else OpenEnv's HTTP or WebSocket protocol, as
                     EnvClient chooses), connect, grpc, grpc-web, connect-json,
                     websocket or http
  --token TOKEN      send 'Authorization: Bearer TOKEN' (default: the
                     OPENENV_AUTH_TOKEN environment variable)
  --timeout S        deadline of each call in seconds`;

/** The parsed remote options. */
export interface RemoteValues {
  readonly url?: string | undefined;
  readonly protocol?: string | undefined;
  readonly token?: string | undefined;
  readonly timeout?: string | undefined;
  readonly session?: string | undefined;
}

/** A session of a remote environment, printed as OpenEnv JSON (proto field names). */
export interface Remote {
  /** The protocol in use. */
  readonly transport: string;
  /** The session, once known; undefined for a server that keeps none between calls. */
  readonly sessionId: string | undefined;
  /** False for a server that keeps no session between commands (an OpenEnv Python server). */
  readonly keepsSessions: boolean;
  /** Parses an action given as JSON text; throws a {@link UsageError} naming `where`. */
  parseAction(text: string, where: string): unknown;
  reset(params: { seed?: number; episodeId?: string; options?: JsonObject }): Promise<JsonObject>;
  step(action: unknown): Promise<JsonObject>;
  /** `{session_id, episode_id, step_count, state}`. */
  state(): Promise<JsonObject>;
  /** Ends the session on the server; false when it was already gone. */
  end(): Promise<boolean>;
  /** Lets go of the connection, leaving the session open where the protocol allows. */
  release(): Promise<void>;
}

/** The `Authorization` header from `--token`, else `OPENENV_AUTH_TOKEN`. */
export function authHeaders(token: string | undefined): Record<string, string> {
  const t = token ?? process.env.OPENENV_AUTH_TOKEN;
  return t === undefined || t === "" ? {} : { authorization: `Bearer ${t}` };
}

/** Checks `--url`, `--protocol` and `--timeout`. */
export function remoteSettings(values: RemoteValues): { url: string; protocol: (typeof protocols)[number]; timeoutMs: number | undefined } {
  if (values.url === undefined) throw new UsageError("--url is required");
  if (!/^https?:\/\//.test(values.url)) throw new UsageError(`--url must be an http:// or https:// URL, got '${values.url}'`);
  const protocol = values.protocol ?? "auto";
  if (!(protocols as readonly string[]).includes(protocol)) throw new UsageError(`--protocol must be one of ${protocols.join(", ")}`);
  const timeout = secondsOption("timeout", values.timeout);
  return {
    url: values.url.replace(/\/+$/, ""),
    protocol: protocol as (typeof protocols)[number],
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
  };
}

/**
 * Connects to the server at `--url`. `keepSession`: the session outlives this
 * command (reset, step without --close); `--session` continues one.
 */
export async function openRemote(values: RemoteValues, keepSession: boolean): Promise<Remote> {
  const { url, protocol, timeoutMs } = remoteSettings(values);
  const sessionId = values.session;
  if (sessionId !== undefined && protocol === "websocket") {
    throw new UsageError("--session needs --protocol http or an RPC protocol: a session on OpenEnv's /ws ends with its socket");
  }
  await checkListening(url, timeoutMs ?? 5_000);
  const headers = authHeaders(values.token);
  const client = new EnvClient({
    baseUrl: url,
    transport: protocol as EnvTransportKind,
    headers,
    sessionId,
    keepSession,
    stepTimeoutMs: timeoutMs,
    probeTimeoutMs: timeoutMs ?? 5_000,
    retry: false,
  });
  try {
    await client.connect();
    return new TypedRemote(client, url, headers, timeoutMs);
  } catch (err) {
    await client.close().catch(() => {});
    const e = authProblem(err);
    if (protocol !== "auto" && protocol !== "websocket" && protocol !== "http") throw notOpenEnv(url, e, protocol);
  }
  // No Describe: an OpenEnv server (OpenEnv's Python ones), driven with plain JSON.
  let generic: GenericEnvClient;
  try {
    if (protocol !== "websocket") await checkOpenEnvHealth(url, headers, timeoutMs ?? 5_000);
    generic = await GenericEnvClient.connect({ baseUrl: url, transport: protocol, headers, connectTimeoutMs: timeoutMs ?? 5_000 });
  } catch (err) {
    throw notOpenEnv(url, authProblem(err), protocol);
  }
  const remote = new GenericRemote(generic);
  if (sessionId !== undefined) {
    await remote.release();
    throw new UsageError(noSessionsMessage(url));
  }
  return remote;
}

/** Why a session cannot be continued on a server without Describe. */
export function noSessionsMessage(url: string): string {
  return (
    `the server at ${url} keeps no session between commands (an OpenEnv server: its HTTP API is ` +
    `stateless and a /ws session ends with its socket); run an episode in one command: ` +
    `openenv step --url ${url} --reset ACTION_JSON...`
  );
}

/** Rethrows a refused credential with a hint; any other failure is returned as a ConnectError. */
function authProblem(err: unknown): ConnectError {
  const e = ConnectError.from(err);
  if (e.code === Code.Unauthenticated || e.code === Code.PermissionDenied) {
    throw new ConnectError(`${e.rawMessage} (give a token with --token or OPENENV_AUTH_TOKEN)`, e.code);
  }
  return e;
}

/** OpenEnv servers answer `GET /health` with `{"status": "healthy"}`; a web page that answers 200 is not one. */
async function checkOpenEnvHealth(url: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const res = await fetch(`${url}/health`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  if (res.status === 401 || res.status === 403) {
    throw new ConnectError(`GET /health → ${res.status}`, res.status === 401 ? Code.Unauthenticated : Code.PermissionDenied);
  }
  const body = (await res.json().catch(() => undefined)) as { status?: unknown } | undefined;
  if (typeof body?.status !== "string") throw new ConnectError(`GET /health → ${res.status}, not OpenEnv's health`, Code.Unavailable);
}

function notOpenEnv(url: string, cause: ConnectError, protocol: string): Error {
  if (protocol !== "auto") return new NotOpenEnvError(`${url} does not answer OpenEnv's ${protocol} protocol: ${cause.rawMessage}`);
  return new NotOpenEnvError(`${url} does not speak an OpenEnv protocol (no Connect/gRPC service, no /ws WebSocket, no OpenEnv /health)`);
}

/** Fails fast, and clearly, when nothing listens at the URL. */
function checkListening(url: string, timeoutMs: number): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => finish(new ServerNotRunningError(`cannot reach ${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err === undefined) resolve();
      else reject(err);
    };
    socket.once("connect", () => finish());
    socket.once("error", (err: NodeJS.ErrnoException) =>
      finish(
        new ServerNotRunningError(
          err.code === "ECONNREFUSED"
            ? `nothing is listening at ${url} (connection refused): is the server running?`
            : `cannot reach ${url}: ${err.code ?? err.message}`,
        ),
      ),
    );
  });
}
