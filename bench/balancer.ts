// `npm run bench:balancer [-- --quick] [-- --sessions N] [-- --seconds S]`
//
// The cost of HAProxy in front of 1, 2 and 3 echo replicas (bench/server.ts with
// --replica-id), in one run: the same sessions (EnvClient over gRPC Step streams,
// 4 HTTP/2 connections, closed loop) through the balancer, and direct, where the
// client spreads its sessions over the replicas itself (the floor, measured in the
// same run). Reports steps/s and p50/p99 and the ratios balancer/direct. On a
// 2-core machine shared with the client, HAProxy and other users this measures the
// balancer's cost, not scaling: more replicas than cores only share the cores.
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { startHaproxy } from "../soak/haproxy.js";
import { VectorEnv } from "../src/client/vector-env.js";
import { echoSpec } from "../src/envs/echo/environment.js";
import { closedLoop, quantile, type ServerProcess, startServer } from "./harness.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    sessions: { type: "string" },
    seconds: { type: "string" },
    replicas: { type: "string", default: "1,2,3" },
    out: { type: "string", default: "bench/results" },
  },
});
const quick = args.quick === true;
const sessions = Number(args.sessions ?? (quick ? 12 : 48));
const seconds = Number(args.seconds ?? (quick ? 1 : 5));
const counts = args.replicas.split(",").map(Number);

interface Row {
  replicas: number;
  path: "direct" | "balancer";
  stepsPerSecond: number;
  p50Us: number;
  p99Us: number;
}

/** Steps `sessions` sessions in closed loops, `groups[i]` of them against `urls[i]`. */
async function measure(urls: readonly string[]): Promise<Omit<Row, "replicas" | "path">> {
  const vecs = await Promise.all(
    urls.map((baseUrl, i) => {
      const count = Math.floor(sessions / urls.length) + (i < sessions % urls.length ? 1 : 0);
      return VectorEnv.connect({
        baseUrl,
        spec: echoSpec,
        count,
        transport: "grpc",
        connections: Math.max(1, Math.round(4 / urls.length)),
      });
    }),
  );
  try {
    await Promise.all(vecs.map((v) => v.resetAll()));
    const steps = vecs.flatMap((v) => v.envs.map((env) => () => env.step({ message: "hello" })));
    const r = await closedLoop(steps, seconds, 20);
    return {
      stepsPerSecond: Math.round(r.steps / r.seconds),
      p50Us: Math.round(quantile(r.latencies, 0.5)),
      p99Us: Math.round(quantile(r.latencies, 0.99)),
    };
  } finally {
    await Promise.all(vecs.map((v) => v.close()));
  }
}

const rows: Row[] = [];
for (const n of counts) {
  const servers: ServerProcess[] = [];
  for (let i = 1; i <= n; i++) servers.push(await startServer("echo", ["--replica-id", `r${i}`]));
  const balancer = await startHaproxy(servers.map((s, i) => ({ id: `r${i + 1}`, host: "127.0.0.1", port: s.port })));
  try {
    // Direct first, then through the balancer, then direct again: the floor is the better of the two.
    const direct1 = await measure(servers.map((s) => s.url));
    const through = await measure([balancer.url]);
    const direct2 = await measure(servers.map((s) => s.url));
    const direct = direct1.stepsPerSecond >= direct2.stepsPerSecond ? direct1 : direct2;
    rows.push({ replicas: n, path: "direct", ...direct }, { replicas: n, path: "balancer", ...through });
    process.stderr.write(`balancer bench: ${n} replica(s) done\n`);
  } finally {
    await balancer.stop();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

const lines = [
  `${sessions} sessions (EnvClient, gRPC Step streams), echo, ${seconds} s closed loop per measurement; HAProxy ${quick ? "(quick run)" : ""}`.trim(),
  "| replicas | direct steps/s | via HAProxy steps/s | ratio | direct p50 / p99 µs | via HAProxy p50 / p99 µs |",
  "| --- | --- | --- | --- | --- | --- |",
  ...counts.map((n) => {
    const d = rows.find((r) => r.replicas === n && r.path === "direct") as Row;
    const b = rows.find((r) => r.replicas === n && r.path === "balancer") as Row;
    return `| ${n} | ${d.stepsPerSecond} | ${b.stepsPerSecond} | ${(b.stepsPerSecond / d.stepsPerSecond).toFixed(2)} | ${d.p50Us} / ${d.p99Us} | ${b.p50Us} / ${b.p99Us} |`;
  }),
];
console.log(lines.join("\n"));
mkdirSync(args.out, { recursive: true });
const stamp = new Date().toISOString().replaceAll(":", "-");
writeFileSync(
  `${args.out}/balancer-${stamp}.json`,
  `${JSON.stringify({ when: new Date().toISOString(), sessions, seconds, rows }, null, 2)}\n`,
);
