import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import WebSocket from "ws";
import type { HeaderValues } from "../../client/backend.js";
import { fromErrorFrame, fromHttpError } from "./errors.js";

/** Options of the OpenEnv protocol connections. */
export interface OpenEnvConnectionOptions {
  /** Headers sent with the WebSocket handshake and every HTTP request. */
  readonly headers?: HeaderValues | undefined;
  /** Largest frame accepted from the server. Default 100 MiB, as OpenEnv's client. */
  readonly maxMessageBytes?: number | undefined;
  /** Time allowed to open the WebSocket. Default 10 s, as OpenEnv's client. */
  readonly connectTimeoutMs?: number | undefined;
  /** Ask an openenv-connect server for its extra fields (`?extensions=1`; OpenEnv servers ignore it). Default true. */
  readonly extensions?: boolean | undefined;
}

/** `http://host:port/` → `ws://host:port/ws`, as OpenEnv's `convert_to_ws_url`. */
export function webSocketUrl(baseUrl: string, path = "/ws"): string {
  const trimmed = baseUrl.replace(/\/+$/, "");
  const ws = trimmed.startsWith("https://")
    ? `wss://${trimmed.slice(8)}`
    : trimmed.startsWith("http://")
      ? `ws://${trimmed.slice(7)}`
      : /^wss?:\/\//.test(trimmed)
        ? trimmed
        : `ws://${trimmed}`;
  return `${ws}${path}`;
}

/** Headers as a plain record (for `ws`). */
export function headerRecord(headers: HeaderValues | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(headers).forEach((v, k) => {
    out[k] = v;
  });
  return out;
}

interface Waiter {
  resolve(frame: JsonObject): void;
  reject(err: ConnectError): void;
}

/**
 * One `/ws` session: JSON text frames, strict request → reply in order.
 * Requests may be pipelined (replies come back in order). A server error frame
 * rejects the request it answers; an error frame nobody asked for (capacity at
 * connect) fails the connection, and every later request, with that error.
 */
export class OpenEnvSocket {
  private readonly waiters: Waiter[] = [];
  private failure: ConnectError | undefined;

  /** A socket that never opened: every request rejects with `failure` (a resume whose upgrade failed). */
  static failed(failure: ConnectError): OpenEnvSocket {
    return new OpenEnvSocket(undefined, failure);
  }

  private constructor(
    private readonly ws: WebSocket | undefined,
    failure?: ConnectError,
  ) {
    this.failure = failure;
    if (ws === undefined) return;
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    ws.on("close", (code, reason) => {
      const text = reason.toString("utf8");
      this.fail(
        this.failure ?? new ConnectError(`the server closed the WebSocket (${code}${text === "" ? "" : `: ${text}`})`, Code.Unavailable),
      );
    });
    ws.on("error", (err) => this.fail(new ConnectError(`WebSocket error: ${err.message}`, Code.Unavailable)));
  }

  /** Opens `url` (a `ws://…/ws` URL). Rejects with UNAVAILABLE when the server refuses the upgrade. */
  static connect(url: string, options: OpenEnvConnectionOptions = {}): Promise<OpenEnvSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        headers: headerRecord(options.headers),
        maxPayload: options.maxMessageBytes ?? 100 * 1024 * 1024,
        handshakeTimeout: options.connectTimeoutMs ?? 10_000,
        perMessageDeflate: false,
      });
      const failed = (err: Error, code = Code.Unavailable): void => {
        ws.removeAllListeners();
        ws.on("error", () => {});
        ws.terminate();
        reject(new ConnectError(`cannot open ${url}: ${err.message}`, code));
      };
      ws.once("error", (err) => failed(err));
      ws.once("unexpected-response", (_req, res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        // A refused handshake for want of credentials is not "unreachable".
        const code = status === 401 ? Code.Unauthenticated : status === 403 ? Code.PermissionDenied : Code.Unavailable;
        failed(new Error(`the server answered the upgrade with HTTP ${status}`), code);
      });
      ws.once("open", () => {
        ws.off("error", failed);
        resolve(new OpenEnvSocket(ws));
      });
    });
  }

  /** Why the connection is unusable, once it is. */
  get broken(): ConnectError | undefined {
    return this.failure;
  }

  /** Sends a frame and resolves with the reply frame (`observation`, `state`, `mcp`); an `error` frame rejects. */
  request(frame: JsonObject): Promise<JsonObject> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const ws = this.ws as WebSocket; // set whenever no failure is
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      ws.send(JSON.stringify(frame), (err) => {
        if (err !== undefined && err !== null) this.fail(new ConnectError(`WebSocket send failed: ${err.message}`, Code.Unavailable));
      });
    });
  }

  /** Sends `{"type":"close"}` (the server ends the session) and closes the socket. */
  async close(): Promise<void> {
    const ws = this.ws;
    if (ws?.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => ws.send(JSON.stringify({ type: "close" }), () => resolve()));
    }
    this.fail(new ConnectError("the client is closed", Code.FailedPrecondition));
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2_000);
      timer.unref();
      ws.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      ws.close(1000);
    });
  }

  /** Drops the connection without a close frame, as a network failure would (for tests and chaos drivers). */
  drop(): void {
    this.ws?.terminate();
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    let frame: unknown;
    try {
      if (isBinary) throw new Error("binary frame");
      frame = JSON.parse(Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString());
    } catch {
      this.fail(new ConnectError("the server sent a frame that is not JSON", Code.Internal));
      this.ws?.terminate();
      return;
    }
    const f = (typeof frame === "object" && frame !== null && !Array.isArray(frame) ? frame : {}) as JsonObject;
    const waiter = this.waiters.shift();
    if (waiter === undefined) {
      // Unsolicited: OpenEnv's setup errors (capacity, factory) arrive before any request.
      this.failure ??= f.type === "error" ? fromErrorFrame(f.data) : new ConnectError("the server sent an unexpected frame", Code.Internal);
      return;
    }
    if (f.type === "error") waiter.reject(fromErrorFrame(f.data));
    else waiter.resolve(f);
  }

  private fail(err: ConnectError): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(this.failure);
  }
}

/** OpenEnv's HTTP routes, with errors as ConnectErrors. */
export class OpenEnvHttp {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly options: OpenEnvConnectionOptions = {},
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
  }

  /** `GET path` → parsed JSON; non-2xx rejects. */
  get(path: string, headers: Record<string, string> = {}, timeoutMs?: number): Promise<{ body: unknown; headers: Headers }> {
    return this.call("GET", path, undefined, headers, timeoutMs);
  }

  /** `POST path` with a JSON body → parsed JSON; non-2xx rejects. */
  post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ body: unknown; headers: Headers }> {
    return this.call("POST", path, body, headers);
  }

  private async call(
    method: string,
    path: string,
    body: unknown,
    extra: Record<string, string>,
    timeoutMs?: number,
  ): Promise<{ body: unknown; headers: Headers }> {
    const headers = new Headers(this.options.headers);
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    if (body !== undefined) headers.set("content-type", "application/json");
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
      throw new ConnectError(
        `${method} ${this.base}${path} failed${cause || (err instanceof Error ? `: ${err.message}` : "")}`,
        Code.Unavailable,
      );
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      // Not JSON (e.g. a proxy's error page): keep the text for the message.
    }
    if (!res.ok) throw fromHttpError(res.status, parsed);
    return { body: parsed, headers: res.headers };
  }
}
