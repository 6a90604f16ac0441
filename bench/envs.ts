// Quick figures for the bundled environments (not a test; no assertions):
//   node --import tsx bench/envs.ts [codingSteps] [mazeSteps]
// - coding: latency of a trivial print step (client -> server -> python -> back), p50/p90/p99
// - maze: steps per second over one bidirectional Step stream (sequential, one session)
import { Direction } from "../gen/openenv/envs/maze/v1/maze_pb.js";
import { EnvClient } from "../src/client/env-client.js";
import { CodingEnvironment, codingSpec } from "../src/envs/coding/environment.js";
import { SeededRandom } from "../src/envs/common/random.js";
import { MazeEnvironment, mazeSpec } from "../src/envs/maze/environment.js";
import { serve } from "../src/server/serve.js";

const codingSteps = Number(process.argv[2] ?? 200);
const mazeSteps = Number(process.argv[3] ?? 5000);

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

{
  const server = await serve(CodingEnvironment, { port: 0 });
  const env = await EnvClient.connect({ baseUrl: server.url, spec: codingSpec });
  await env.reset();
  for (let i = 0; i < 20; i++) await env.step({ code: "print('warm')" });
  const times: number[] = [];
  for (let i = 0; i < codingSteps; i++) {
    const t = performance.now();
    const r = await env.step({ code: "print('Hello, OpenEnv!')" });
    times.push(performance.now() - t);
    if (r.observation.stdout !== "Hello, OpenEnv!\n") throw new Error(`unexpected stdout ${JSON.stringify(r.observation.stdout)}`);
  }
  times.sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(2);
  console.log(
    `coding: trivial print step over Connect (h2c), ${codingSteps} steps: p50 ${f(percentile(times, 50))} ms, p90 ${f(percentile(times, 90))} ms, p99 ${f(percentile(times, 99))} ms`,
  );
  await env.close();
  await server.close();
}

{
  const server = await serve(MazeEnvironment, { port: 0 });
  const env = await EnvClient.connect({ baseUrl: server.url, spec: mazeSpec });
  const moves = new SeededRandom(1n);
  const directions = [Direction.UP, Direction.DOWN, Direction.LEFT, Direction.RIGHT];
  await env.reset({ seed: 1 });
  for (let i = 0; i < 200; i++) if ((await env.step({ direction: moves.pick(directions) })).done) await env.reset({ seed: i });
  let resets = 0;
  const t = performance.now();
  for (let i = 0; i < mazeSteps; i++) {
    const r = await env.step({ direction: moves.pick(directions) });
    if (r.done) {
      await env.reset({ seed: i });
      resets++;
    }
  }
  const seconds = (performance.now() - t) / 1000;
  console.log(
    `maze: ${mazeSteps} sequential steps (+${resets} resets) on one Step stream in ${seconds.toFixed(2)} s: ${Math.round(mazeSteps / seconds)} steps/s`,
  );
  await env.close();
  await server.close();
}
