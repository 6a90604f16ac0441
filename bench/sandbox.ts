// `npm run bench:sandbox [-- --steps N] [-- --resets N] [-- --rounds R] [-- --quick]`
//
// What the coding environment's bubblewrap sandbox costs: the latency of a trivial
// `print` step and of a reset (a fresh interpreter: with the sandbox, a fresh
// sandbox too), sandboxed against unsandboxed (`sandbox: "none"`), in one run. Both
// servers run in this process on loopback; rounds alternate between them so load
// from other users of the machine falls on both. Reports p50/p99 of each and the
// ratios sandboxed / unsandboxed (the floor is the unsandboxed figure of the same run).
import { parseArgs } from "node:util";
import { EnvClient } from "../src/client/env-client.js";
import { CodingEnvironment, codingSpec } from "../src/envs/coding/environment.js";
import { Sandbox, sandboxReport } from "../src/server/sandbox/sandbox.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

const { values: args } = parseArgs({
  options: {
    steps: { type: "string" },
    resets: { type: "string" },
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const quick = args.quick === true;
const steps = Number(args.steps ?? (quick ? 20 : 300));
const resets = Number(args.resets ?? (quick ? 3 : 20));
const rounds = Number(args.rounds ?? (quick ? 1 : 3));

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

interface Variant {
  readonly name: "sandboxed" | "unsandboxed";
  readonly server: EnvironmentServer;
  readonly step: number[];
  readonly reset: number[];
}

async function measure(v: Variant): Promise<void> {
  const env = await EnvClient.connect({ baseUrl: v.server.url, spec: codingSpec, stepTimeoutMs: 120_000 });
  try {
    for (let i = 0; i < resets; i++) {
      const t = performance.now();
      await env.reset();
      v.reset.push(performance.now() - t);
    }
    for (let i = 0; i < 10; i++) await env.step({ code: "print('warm')" });
    for (let i = 0; i < steps; i++) {
      const t = performance.now();
      const r = await env.step({ code: "print('Hello, OpenEnv!')" });
      v.step.push(performance.now() - t);
      if (r.observation.stdout !== "Hello, OpenEnv!\n") throw new Error(`unexpected stdout ${JSON.stringify(r.observation.stdout)}`);
    }
  } finally {
    await env.close();
  }
}

const report = sandboxReport();
if (!report.available) {
  console.error(`bench:sandbox needs bubblewrap: ${report.summary}`);
  process.exit(1);
}
const variants: Variant[] = [
  { name: "sandboxed", server: await serve(CodingEnvironment, { port: 0 }), step: [], reset: [] },
  { name: "unsandboxed", server: await serve(CodingEnvironment.with({ sandbox: "none" }), { port: 0 }), step: [], reset: [] },
];
try {
  for (let round = 0; round < rounds; round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) await measure(v);
  }
} finally {
  await Promise.all(variants.map((v) => v.server.close()));
}
const f = (x: number) => x.toFixed(1).padStart(7);
console.log(`sandbox: ${report.summary}`);
console.log(
  `${rounds} round(s) of ${resets} resets and ${steps} trivial print steps per variant, alternating; machine load shared with other users`,
);
console.log("variant       step p50   step p99  reset p50  reset p99   (ms)");
for (const v of variants) {
  console.log(
    `${v.name.padEnd(12)} ${f(percentile(v.step, 50))}    ${f(percentile(v.step, 99))}    ${f(percentile(v.reset, 50))}    ${f(percentile(v.reset, 99))}`,
  );
}
// The sandbox alone: bwrap (with its control group and uid) around /bin/true.
const bare: number[] = [];
for (let i = 0; i < Math.max(10, resets * 2); i++) {
  const t = performance.now();
  const box = await Sandbox.start({ command: ["/bin/true"] });
  await box.exited;
  bare.push(performance.now() - t);
  await box.close();
}
console.log(
  `sandbox alone (Sandbox.start of /bin/true until it exits): p50 ${f(percentile(bare, 50)).trim()} ms, p99 ${f(percentile(bare, 99)).trim()} ms`,
);
const [s, u] = variants;
const ratio = (a: number[], b: number[], p: number) => (percentile(a, p) / percentile(b, p)).toFixed(2);
console.log(
  `ratio sandboxed/unsandboxed: step p50 ${ratio(s.step, u.step, 50)}x, step p99 ${ratio(s.step, u.step, 99)}x, reset p50 ${ratio(s.reset, u.reset, 50)}x, reset p99 ${ratio(s.reset, u.reset, 99)}x`,
);
