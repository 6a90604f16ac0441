import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";
import { EnvClient } from "../../src/client/env-client.js";
import { BrowserEnvironment, type BrowserFactory, browserSpec } from "../../src/envs/browser/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";

/** A site on loopback that tests allow: pages that hang, grow, open popups or never answer, and a log of hits. */
export interface TestSite {
  readonly url: string;
  readonly hits: string[];
  close(): Promise<void>;
}

export async function startSite(): Promise<TestSite> {
  const hits: string[] = [];
  const pages: Record<string, string> = {
    "/hang": `<title>Hang</title><button onclick="while (true) {}">Hang</button>`,
    "/grow": `<title>Grow</title><button onclick="window.keep = []; for (let i = 0; i < 12; i++) window.keep.push(new Array(1e6).fill(i + 0.5))">Grow</button>`,
    "/explode": `<title>Explode</title><button onclick="window.keep = []; for (let i = 0; i < 64; i++) window.keep.push(new Array(1e6).fill(i + 0.5))">Explode</button>`,
    "/popups": `<title>Popups</title><button onclick="for (let i = 0; i < 5; i++) window.open('/plain?' + i)">Open</button>`,
    "/plain": `<title>Plain</title><p>A plain page.</p>`,
  };
  const site = http.createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url === "/slow") return; // never answers
    const body = pages[(req.url ?? "").split("?")[0]];
    res.writeHead(body === undefined ? 404 : 200, { "content-type": "text/html" });
    res.end(body ?? "not found");
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(site.address() as AddressInfo).port}`,
    hits,
    async close() {
      site.closeAllConnections();
      await new Promise((resolve) => site.close(resolve));
    },
  };
}

/** A browser server that allows `site`, with short deadlines and small limits so tests reach them quickly. */
export async function startBrowserServer(site: TestSite): Promise<{ factory: BrowserFactory; server: EnvironmentServer }> {
  const factory = BrowserEnvironment.with({
    allowedOrigins: [site.url],
    actionTimeoutMs: 4_000,
    navigationTimeoutMs: 2_000,
    jsHeapLimitMb: 32,
    rendererHeapLimitMb: 128,
    maxPages: 2,
  });
  return { factory, server: await serve(factory, { port: 0 }) };
}

/** A test site and a browser server allowing it, started before the file's tests and closed after them. */
export function useBrowserServer(): { readonly site: TestSite; readonly server: EnvironmentServer } {
  const fixture = {} as { site: TestSite; server: EnvironmentServer };
  beforeAll(async () => {
    fixture.site = await startSite();
    fixture.server = (await startBrowserServer(fixture.site)).server;
  });
  afterAll(async () => {
    await fixture.server?.close();
    await fixture.site?.close();
  });
  return fixture;
}

/** A typed client of a browser server. */
export const connectBrowser = (server: EnvironmentServer) => EnvClient.connect({ baseUrl: server.url, spec: browserSpec });
