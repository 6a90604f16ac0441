// What a forwarded call carries of the caller's request: its own headers, not the protocol's.
import type { ForwardedHeaders } from "../../core/placement.js";

/** Headers that describe one hop (or the RPC framing), never forwarded. */
export const hopHeaders = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "host",
  "http2-settings",
  "content-length",
  "content-type",
  "content-encoding",
  "accept-encoding",
  "user-agent",
]);

function forwardable(name: string): boolean {
  return !(
    name.startsWith(":") ||
    hopHeaders.has(name) ||
    name.startsWith("grpc-") ||
    name.startsWith("connect-") ||
    name === "x-user-agent" ||
    name === "x-grpc-web"
  );
}

/** The caller's own headers (credentials, `openenv-keep-session`, ...) without the protocol's. */
export function forwardedHeaders(headers: ForwardedHeaders | undefined): Headers {
  const out = new Headers();
  if (headers === undefined) return out;
  if (headers instanceof Headers) {
    headers.forEach((value, name) => {
      if (forwardable(name)) out.append(name, value);
    });
    return out;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || !forwardable(name)) continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(name, v);
  }
  return out;
}
