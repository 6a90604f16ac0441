// A client process of `bench/workers.ts`: opens N EnvClient sessions, each on its
// own HTTP/2 connection (so node:cluster spreads them over the workers), and on
// "go" runs one sequential step loop per session for the given time.
import { create } from "@bufbuild/protobuf";
import { EchoActionSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { echoSpec } from "../src/envs/echo/environment.js";

const [url, count, seconds, transport] = process.argv.slice(2);
const n = Number(count);
const kind = (transport ?? "grpc") as "grpc" | "connect";
const action = create(EchoActionSchema, { message: "ping" });

const clients: EnvClient<typeof echoSpec.action, typeof echoSpec.observation, typeof echoSpec.state>[] = [];
for (let i = 0; i < n; i++) {
  const env = await EnvClient.connect({ baseUrl: url as string, spec: echoSpec, transport: kind, verify: i === 0 });
  await env.reset();
  for (let w = 0; w < 200; w++) await env.step(action); // warm-up
  clients.push(env);
}
const owners = clients.map((c) => /^w(\d+)-/.exec(c.sessionId ?? "")?.[1] ?? "single");
process.send?.({ type: "ready", owners });

process.once("message", async () => {
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  const end = start + Number(seconds) * 1000;
  const latencies: number[] = [];
  await Promise.all(
    clients.map(async (env) => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= end) return;
        await env.step(action);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const wall = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const q = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  process.send?.({ type: "done", steps: latencies.length, wall, cpuSeconds: (cpu.user + cpu.system) / 1e6, p50: q(0.5), p99: q(0.99) });
  await Promise.all(clients.map((c) => c.close()));
  process.exit(0);
});
