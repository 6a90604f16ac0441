// The soak and scale tests' server, in its own process: the soak environment on a loopback port,
// plus GET /soak/stats (what every session applied, sessions open, RSS). Prints one JSON
// line {"url",...} when ready; SIGTERM shuts it down gracefully.
import type * as http from "node:http";
import type { HttpSurface, ServerRequest, ServerResponse } from "../src/server/serve.js";
import { serve } from "../src/server/serve.js";
import { applied, appliedCount, SoakEnvironment } from "./soak-env.js";

let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 250);
sampler.unref();

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
// `--record-size 0` turns request-id replay off: only to check that the audit catches duplicates.
const recordSize = arg("--record-size") === undefined ? undefined : Number(arg("--record-size"));
// The scale test runs replicas (`--replica-id r2`), and restarts a killed one on its port (`--port`).
const replicaId = arg("--replica-id");
const port = Number(arg("--port") ?? 0);

const server = await serve(SoakEnvironment, {
  port,
  replicaId,
  recordSize,
  maxSessions: 512,
  resumeGraceMs: 10_000,
  idleTimeoutMs: 60_000,
  stepTimeoutMs: 10_000,
  maxMessageBytes: 1024 * 1024,
  firstByteTimeoutMs: 2_000,
  headersTimeoutMs: 2_000,
  keepAliveTimeoutMs: 5_000,
  surfaces: (router) => [statsSurface(() => router.sessions.stats())],
});

function statsSurface(sessions: () => { active: number; opened: number; closed: number }): HttpSurface {
  return {
    handle(req: ServerRequest, res: ServerResponse) {
      if (req.url !== "/soak/stats" && req.url !== "/soak/stats?gc=1") return false;
      // With --expose-gc, a full collection first makes heapUsed comparable between samples.
      const gc = (globalThis as { gc?: () => void }).gc;
      if (req.url.endsWith("gc=1") && gc !== undefined) gc();
      const perSession: Record<string, { applied: number; maxSeq: number; duplicates: number; closed: boolean }> = {};
      for (const [id, r] of applied)
        perSession[id] = { applied: appliedCount(r), maxSeq: r.maxSeq, duplicates: r.duplicates, closed: r.closed };
      const rss = process.memoryUsage().rss;
      peakRss = Math.max(peakRss, rss);
      const body = JSON.stringify({ sessions: sessions(), rss, peakRss, heapUsed: process.memoryUsage().heapUsed, perSession });
      (res as http.ServerResponse).writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
      return true;
    },
  };
}

process.once("SIGTERM", () => {
  void server.close().then(() => process.exit(0));
});
process.stdout.write(`${JSON.stringify({ event: "listening", url: server.url, port: server.port, pid: process.pid })}\n`);
