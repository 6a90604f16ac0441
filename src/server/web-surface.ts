import { existsSync, readFileSync } from "node:fs";
import type * as http from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { HttpSurface, ServerRequest, ServerResponse } from "./serve.js";

/** The files of the web page's bundle (built by `npm run build` into `dist/web/`). */
const files: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "app.css": "text/css; charset=utf-8",
  "renderers.js": "text/javascript; charset=utf-8",
};

/**
 * Only our own origin: the page loads nothing from the internet. `connect-src` also
 * allows other http(s)/ws(s) origins, because the page can be pointed at another server.
 */
const securityHeaders = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' http: https: ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/** Where the bundle is: `dist/web` beside the compiled server, or from the sources (tsx, tests). */
export function webBundleDir(): string {
  const candidates = [new URL("../../web/", import.meta.url), new URL("../../dist/web/", import.meta.url)];
  for (const c of candidates) if (existsSync(new URL("index.html", c))) return fileURLToPath(c);
  return fileURLToPath(candidates[candidates.length - 1] as URL);
}

/** Whether a request path is the web page or one of its files (served without credentials: the page asks for the token). */
export function isWebPath(url: string | undefined): boolean {
  if (url === undefined || !url.startsWith("/web")) return false;
  // Normalised as every route reads it: `/web/../reset` is `/reset`, not a page file.
  const path = new URL(url, "http://localhost").pathname;
  return path === "/web" || path.startsWith("/web/");
}

/** Options of the `/web` page (`serve(Env, { web: { ... } })`). */
export interface WebOptions {
  /**
   * Path of a script of your own, served as `/web/renderers.js` and run by the page before
   * it connects: it registers renderers for your message types with
   * `openenvWeb.registerRenderer(typeName, (message, ctx) => Node | string)` (see docs/web.md).
   */
  readonly renderers?: string;
  /** Directory of the built page. Default: the package's `dist/web`. */
  readonly dir?: string;
}

/**
 * The `/web` page: a static bundle (HTML, one script, one stylesheet) that plays
 * and inspects the environment from a browser, through the server's own Connect
 * and OpenEnv routes. Files are read once, on the first request.
 */
export function webSurface(options: WebOptions = {}): HttpSurface {
  const dir = options.dir ?? webBundleDir();
  let loaded: Map<string, Buffer> | undefined;
  const load = (): Map<string, Buffer> | undefined => {
    if (loaded !== undefined) return loaded;
    const found = new Map<string, Buffer>();
    for (const name of Object.keys(files)) {
      if (name === "renderers.js") continue;
      try {
        found.set(name, readFileSync(join(dir, name)));
      } catch {
        return undefined; // not built (yet): answer 503 and look again next time
      }
    }
    // Read now, so that a missing file fails the first request loudly rather than the page silently.
    found.set("renderers.js", options.renderers === undefined ? Buffer.alloc(0) : readFileSync(options.renderers));
    loaded = found;
    return found;
  };
  return {
    handle(req: ServerRequest, res: ServerResponse): boolean {
      if (!isWebPath(req.url)) return false;
      const out = res as http.ServerResponse;
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (req.method !== "GET" && req.method !== "HEAD") {
        out.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" });
        out.end(JSON.stringify({ detail: "Method Not Allowed" }));
        return true;
      }
      if (path === "/web") {
        out.writeHead(308, { location: "/web/" });
        out.end();
        return true;
      }
      const name = path === "/web/" ? "index.html" : path.slice("/web/".length);
      const type = files[name];
      if (type === undefined) return false;
      const bundle = load();
      if (bundle === undefined) {
        const body = "The web page is not built: run `npm run build` in the openenv-connect package.\n";
        out.writeHead(503, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
        out.end(body);
        return true;
      }
      const data = bundle.get(name) as Buffer;
      out.writeHead(200, { "content-type": type, "content-length": data.length, ...securityHeaders });
      out.end(req.method === "HEAD" ? undefined : data);
      return true;
    },
  };
}
