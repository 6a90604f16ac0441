import { toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, MazeObservationSchema } from "../../gen/openenv/envs/maze/v1/maze_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { SeededRandom } from "../../src/envs/common/random.js";
import { MazeEnvironment, mazeSpec } from "../../src/envs/maze/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { expectConnectError } from "./helpers.js";

let server: EnvironmentServer;
beforeAll(async () => {
  server = await serve(MazeEnvironment, { port: 0 });
});
afterAll(async () => {
  await server.close();
});

const connect = () => EnvClient.connect({ baseUrl: server.url, spec: mazeSpec });
const delta: Record<number, [number, number]> = {
  [Direction.UP]: [-1, 0],
  [Direction.DOWN]: [1, 0],
  [Direction.LEFT]: [0, -1],
  [Direction.RIGHT]: [0, 1],
};

describe("maze over a real server", () => {
  it("starts top-left with a rendered grid and reachable goal", async () => {
    await using env = await connect();
    const r = await env.reset({ seed: 42, options: { width: 4, height: 3 } });
    const o = r.observation;
    expect([o.rows, o.cols]).toEqual([7, 9]);
    expect(o.position).toMatchObject({ row: 1, col: 1 });
    expect(o.goal).toMatchObject({ row: 5, col: 7 });
    expect(o.seed).toBe(42n);
    expect(o.stepsRemaining).toBe(48);
    const lines = o.render.trimEnd().split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[1][1]).toBe("A");
    expect(lines[5][7]).toBe("G");
    expect(lines[0]).toBe("#########");
    expect(o.distanceToGoal).toBeGreaterThanOrEqual(10);
    expect(o.legalDirections.length).toBeGreaterThan(0);
    for (const d of o.legalDirections) expect(lines[1 + delta[d][0]][1 + delta[d][1]]).toBe(".");
  });

  it("reaches the goal along the shortest path, terminating with the goal reward", async () => {
    await using env = await connect();
    const first = await env.reset({ seed: 7 });
    const state = await env.state();
    const path = shortestPath(state.grid, [1, 1], [first.observation.goal?.row ?? 0, first.observation.goal?.col ?? 0]);
    expect(path.length).toBe(first.observation.distanceToGoal);
    let r = first;
    for (const [i, d] of path.entries()) {
      expect(r.done).toBe(false);
      expect(r.observation.legalDirections).toContain(d);
      r = await env.step({ direction: d });
      expect(r.observation.hitWall).toBe(false);
      expect(r.observation.distanceToGoal).toBe(path.length - i - 1);
      if (i < path.length - 1) expect(r.reward).toBeCloseTo(-0.01);
    }
    expect(r.terminated).toBe(true);
    expect(r.truncated).toBe(false);
    expect(r.done).toBe(true);
    expect(r.observation.position).toMatchObject({ row: r.observation.goal?.row, col: r.observation.goal?.col });
    expect(r.reward).toBeCloseTo(0.99);
    expect(r.rewardComponents).toEqual({ goal: 1, step_cost: 1, wall: 0 });
    expect((await env.state()).solved).toBe(true);
    await expectConnectError(env.step({ direction: Direction.UP }), Code.FailedPrecondition, /is over; reset/);
  });

  it("penalises walls without moving and truncates at the step limit", async () => {
    await using env = await connect();
    const r = await env.reset({ seed: 3, options: { max_steps: 3 } });
    const wall = [Direction.UP, Direction.LEFT].find((d) => !r.observation.legalDirections.includes(d)) as Direction;
    expect(wall).toBeDefined(); // the start is the top-left corner: up and left are border walls
    const a = await env.step({ direction: Direction.UP });
    expect(a.observation.hitWall).toBe(true);
    expect(a.observation.position).toMatchObject({ row: 1, col: 1 });
    expect(a.reward).toBeCloseTo(-0.06);
    expect(a.rewardComponents).toEqual({ goal: 0, step_cost: 1, wall: 1 });
    expect(a.observation.stepsRemaining).toBe(2);
    await env.step({ direction: Direction.LEFT });
    const c = await env.step({ direction: Direction.UP });
    expect(c.truncated).toBe(true);
    expect(c.terminated).toBe(false);
    expect(c.done).toBe(true);
    expect(c.observation.stepsRemaining).toBe(0);
    expect((await env.state()).wallHits).toBe(3);
  });

  it("gives the same trajectory for the same seed and actions, and another layout for another seed", async () => {
    const play = async (seed: number) => {
      await using env = await connect();
      const first = await env.reset({ seed, options: { loop_fraction: 0.2 } });
      const moves = new SeededRandom(99n);
      const out = [toBinary(MazeObservationSchema, first.observation)];
      const rewards: (number | undefined)[] = [];
      for (let i = 0; i < 60; i++) {
        const r = await env.step({ direction: moves.pick([Direction.UP, Direction.DOWN, Direction.LEFT, Direction.RIGHT]) });
        out.push(toBinary(MazeObservationSchema, r.observation));
        rewards.push(r.reward);
        if (r.done) break;
      }
      return { out, rewards, render: first.observation.render };
    };
    const a = await play(1234);
    const b = await play(1234);
    expect(b.out).toEqual(a.out);
    expect(b.rewards).toEqual(a.rewards);
    const c = await play(1235);
    expect(c.render).not.toBe(a.render);
  });

  it("reports an unseeded layout's seed, which reproduces it", async () => {
    await using env = await connect();
    const r = await env.reset();
    const again = await env.reset({ seed: r.observation.seed });
    expect(again.observation.render).toBe(r.observation.render);
  });

  it("rejects bad actions and options with INVALID_ARGUMENT and stays usable", async () => {
    await using env = await connect();
    await env.reset({ seed: 1 });
    await expectConnectError(env.step({ direction: Direction.UNSPECIFIED }), Code.InvalidArgument, /direction: value is required/);
    await expectConnectError(
      env.step({ direction: 9 as Direction }),
      Code.InvalidArgument,
      /direction: value must be less than or equal to 4/,
    );
    await expectConnectError(
      env.reset({ options: { width: 1 } }),
      Code.InvalidArgument,
      /reset options: width: value must be greater than or equal to 2/,
    );
    await expectConnectError(
      env.reset({ options: { colour: "red" } }),
      Code.InvalidArgument,
      /colour.*options of this environment: width, height/,
    );
    await expectConnectError(env.reset({ options: { width: "wide" } }), Code.InvalidArgument, /invalid reset options/);
    const r = await env.reset({ seed: 1 });
    expect(r.stepCount).toBe(0);
    expect((await env.step({ direction: Direction.DOWN })).stepCount).toBe(1);
  });
});

describe.each(["grpc", "grpc-web", "connect-json"] as const)("maze reward components over %s", (transport) => {
  it("reach the client with every step", async () => {
    await using env = await EnvClient.connect({ baseUrl: server.url, spec: mazeSpec, transport });
    await env.reset({ seed: 5 });
    const r = await env.step({ direction: Direction.UP });
    expect(r.observation.hitWall).toBe(true);
    expect(r.reward).toBeCloseTo(-0.06);
    expect(r.rewardComponents).toEqual({ goal: 0, step_cost: 1, wall: 1 });
  });
});

/** Breadth-first search over a grid of '#'/'.' rows; returns the moves from `from` to `to`. */
function shortestPath(grid: string[], from: [number, number], to: [number, number]): Direction[] {
  const key = (r: number, c: number) => `${r},${c}`;
  const prev = new Map<string, [string, Direction]>();
  const queue: [number, number][] = [from];
  const seen = new Set([key(...from)]);
  while (queue.length > 0) {
    const [r, c] = queue.shift() as [number, number];
    if (r === to[0] && c === to[1]) break;
    for (const d of [Direction.UP, Direction.DOWN, Direction.LEFT, Direction.RIGHT]) {
      const [nr, nc] = [r + delta[d][0], c + delta[d][1]];
      if (grid[nr][nc] !== "." || seen.has(key(nr, nc))) continue;
      seen.add(key(nr, nc));
      prev.set(key(nr, nc), [key(r, c), d]);
      queue.push([nr, nc]);
    }
  }
  const moves: Direction[] = [];
  for (let k = key(...to); k !== key(...from); ) {
    const step = prev.get(k);
    if (step === undefined) throw new Error("goal unreachable");
    moves.unshift(step[1]);
    k = step[0];
  }
  return moves;
}
