// Measurement plumbing: server processes, closed-loop drivers, percentiles.
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";

/** A benchmark server running in its own process. */
export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  readonly mode: string;
  /** CPU time (µs, user + system) and RSS (bytes) of the server process now. */
  stats(): Promise<{ cpuUs: number; rss: number }>;
  /** Runs a full GC in the server (it is started with --expose-gc). */
  gc(): Promise<void>;
  stop(): Promise<void>;
}

const serverScript = fileURLToPath(new URL("./server.ts", import.meta.url));

/** Starts `bench/server.ts` in `mode` and waits until it listens. */
export async function startServer(mode: string, extraArgs: string[] = []): Promise<ServerProcess> {
  const child: ChildProcess = fork(serverScript, [mode, ...extraArgs], {
    execArgv: ["--import", "tsx", "--expose-gc"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  let exited: Error | undefined;
  child.once("exit", (code) => {
    exited = new Error(`bench server (${mode}) exited with ${code}`);
  });
  const ask = <T>(type: string): Promise<T> =>
    new Promise((resolve, reject) => {
      if (exited !== undefined) return reject(exited);
      const onMessage = (msg: { type: string } & T): void => {
        if (msg.type !== type) return;
        child.off("message", onMessage);
        resolve(msg);
      };
      child.on("message", onMessage);
      if (type !== "ready") child.send({ type });
    });
  const ready = await ask<{ port: number }>("ready");
  return {
    pid: child.pid as number,
    port: ready.port,
    url: `http://127.0.0.1:${ready.port}`,
    mode,
    async stats() {
      const s = await ask<{ cpu: { user: number; system: number }; rss: number }>("stats");
      return { cpuUs: s.cpu.user + s.cpu.system, rss: s.rss };
    },
    async gc() {
      await ask("gc");
    },
    async stop() {
      const exited = new Promise((r) => child.once("exit", r));
      child.send({ type: "stop" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One step of one session: resolves when the reply has arrived. */
export type StepFn = () => Promise<unknown>;

/** What a closed-loop run measured. */
export interface LoopResult {
  readonly steps: number;
  readonly seconds: number;
  /** Per-step latencies in µs, sorted. */
  readonly latencies: Float64Array;
}

/**
 * Runs every session's step function in its own closed loop (send, await reply,
 * repeat) for `seconds`, after `warmup` steps per session.
 */
export async function closedLoop(sessions: StepFn[], seconds: number, warmup: number): Promise<LoopResult> {
  await Promise.all(
    sessions.map(async (step) => {
      for (let i = 0; i < warmup; i++) await step();
    }),
  );
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    sessions.map(async (step) => {
      for (;;) {
        const t0 = performance.now();
        if (t0 >= end) return;
        await step();
        latencies.push((performance.now() - t0) * 1000);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return { steps: latencies.length, seconds: elapsed, latencies: sorted };
}

/** The q-quantile (0..1) of sorted values. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}
