import { cors as connectCors } from "@connectrpc/connect";
import type { ServerRequest, ServerResponse } from "./serve.js";

/** Cross-origin access for browser clients (off unless origins are given). */
export interface CorsOptions {
  /** Allowed origins, e.g. `["https://app.example.com"]`; `"*"` allows any origin (then without credentials). */
  readonly origins: readonly string[] | "*";
  /** Extra request headers browsers may send (e.g. `Authorization` is included already). */
  readonly allowedHeaders?: readonly string[];
  /** How long browsers may cache a preflight answer, in seconds. Default 7200. */
  readonly maxAgeSeconds?: number;
}

/**
 * Adds CORS headers for allowed origins and answers preflight requests.
 * Returns true when the request was a preflight and has been answered.
 */
export function applyCors(options: CorsOptions, req: ServerRequest, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== "string") return false;
  const any = options.origins === "*";
  if (!any && !(options.origins as readonly string[]).includes(origin)) return false;
  res.setHeader("access-control-allow-origin", any ? "*" : origin);
  if (!any) {
    res.setHeader("vary", "Origin");
    res.setHeader("access-control-allow-credentials", "true");
  }
  res.setHeader("access-control-expose-headers", connectCors.exposedHeaders.join(", "));
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
    // openenv-keep-session: the /web page's Step calls (one per action) keep their session.
    const headers = [...connectCors.allowedHeaders, "Authorization", "OpenEnv-Keep-Session", ...(options.allowedHeaders ?? [])];
    res.setHeader("access-control-allow-methods", [...connectCors.allowedMethods, "OPTIONS"].join(", "));
    res.setHeader("access-control-allow-headers", headers.join(", "));
    res.setHeader("access-control-max-age", String(options.maxAgeSeconds ?? 7200));
    res.statusCode = 204;
    res.end();
    return true;
  }
  return false;
}
