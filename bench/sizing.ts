// `npm run bench:sizing [-- --quick]`: the figures docs/deploy.md's sizing arithmetic uses.
// For echo and coding, served by bench/server.ts in a process of its own: memory per idle
// session (after a reset) and per active session (while every session steps in a closed
// loop), as the proportional set size (PSS) of the server and every process under it (a
// coding session's Python interpreter), and CPU per step (server plus interpreters).
// The machine is shared: take the CPU figures as upper bounds.
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import type { EnvClientSpec } from "../src/client/env-client.js";
import { VectorEnv } from "../src/client/vector-env.js";
import { codingSpec } from "../src/envs/coding/environment.js";
import { echoSpec } from "../src/envs/echo/environment.js";
import { closedLoop, startServer } from "./harness.js";

const { values: args } = parseArgs({ options: { quick: { type: "boolean", default: false } } });
const quick = args.quick === true;

/** The server process and its descendants: pids, from /proc's parent links. */
function tree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      parent.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  return out;
}

/** PSS (bytes) and CPU seconds of a process tree. */
function usage(root: number): { pss: number; cpuS: number; processes: number } {
  let pss = 0;
  let ticks = 0;
  const pids = tree(root);
  for (const pid of pids) {
    try {
      const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      pss += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0) * 1024;
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8").slice(0);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
    } catch {
      // gone meanwhile
    }
  }
  return { pss, cpuS: ticks / 100, processes: pids.length };
}

const kib = (b: number) => Math.round(b / 1024);
const lines: string[] = [];
for (const env of ["echo", "coding"] as const) {
  const sessions = env === "echo" ? (quick ? 100 : 1000) : quick ? 4 : 16;
  const server = await startServer(env);
  try {
    await server.gc();
    const before = usage(server.pid);
    const spec = (env === "echo" ? echoSpec : codingSpec) as EnvClientSpec;
    const vec = await VectorEnv.connect({ baseUrl: server.url, spec, count: sessions, transport: "grpc", connections: 4 });
    await vec.resetAll();
    await server.gc();
    const idle = usage(server.pid);
    const action = env === "echo" ? { message: "hello" } : { code: "x = sum(range(10000))\nprint(x)" };
    const steps = vec.envs.map((e) => () => e.step(action));
    const cpu0 = usage(server.pid).cpuS;
    const run = await closedLoop(steps, quick ? 1 : 5, 2);
    const active = usage(server.pid);
    await vec.close();
    const cpuPerStepUs = ((active.cpuS - cpu0) / run.steps) * 1e6;
    lines.push(
      `| ${env} | ${sessions} | ${kib((idle.pss - before.pss) / sessions)} | ${kib((active.pss - before.pss) / sessions)} | ${Math.round(run.steps / run.seconds)} | ${Math.round(cpuPerStepUs)} | ${Math.round(1e6 / cpuPerStepUs)} |`,
    );
  } finally {
    await server.stop();
  }
}
console.log(
  "| env | sessions | KiB per idle session | KiB per active session | steps/s | CPU µs per step (server + interpreters) | steps per core-second |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
console.log(lines.join("\n"));
