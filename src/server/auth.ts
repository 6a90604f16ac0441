import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

/** Reads one request header by (lower-case) name. */
export type HeaderReader = (name: string) => string | undefined;

/** Authentication of every call: static bearer tokens, or a check of your own. */
export interface AuthOptions {
  /** Accepted bearer tokens (`Authorization: Bearer <token>`), compared in constant time. */
  readonly tokens?: readonly string[];
  /** A pluggable check, given the bearer token (if any) and the request headers; resolve true to accept. */
  readonly check?: (token: string | undefined, header: HeaderReader) => boolean | PromiseLike<boolean>;
}

/** Decides whether a request may proceed. */
export interface Authorizer {
  /** Throws UNAUTHENTICATED (never echoing the token) when the request may not proceed. */
  authorize(header: HeaderReader): Promise<void>;
}

/** Calls that never need credentials: health checks (load balancers and providers poll them). */
export const unauthenticatedProcedures = new Set([
  "/grpc.health.v1.Health/Check",
  "/grpc.health.v1.Health/Watch",
  "/grpc.health.v1.Health/List",
]);

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

/** The same check as a Connect interceptor, for calls through connect-node. */
export function authInterceptor(auth: Authorizer): Interceptor {
  return (next) => async (req) => {
    if (!unauthenticatedProcedures.has(`/${req.service.typeName}/${req.method.name}`)) {
      await auth.authorize((name) => req.header.get(name) ?? undefined);
    }
    return next(req);
  };
}
