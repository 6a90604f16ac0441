import { toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Connect4ObservationSchema, GameStatus } from "../../gen/openenv/envs/connect4/v1/connect4_pb.js";
import { EnvClient, type EnvStepResult } from "../../src/client/env-client.js";
import { SeededRandom } from "../../src/envs/common/random.js";
import { Connect4Environment, connect4Spec } from "../../src/envs/connect4/environment.js";
import { AGENT, Board, OPPONENT } from "../../src/envs/connect4/game.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { expectConnectError } from "./helpers.js";

let server: EnvironmentServer;
beforeAll(async () => {
  server = await serve(Connect4Environment, { port: 0 });
});
afterAll(async () => {
  await server.close();
});

const connect = () => EnvClient.connect({ baseUrl: server.url, spec: connect4Spec });
type Result = EnvStepResult<typeof Connect4ObservationSchema>;

/** Plays `policy` until the game ends; returns every result. */
async function playOut(env: Awaited<ReturnType<typeof connect>>, first: Result, policy: (r: Result) => number): Promise<Result[]> {
  const results = [first];
  let r = first;
  while (!r.done) {
    r = await env.step({ column: policy(r) });
    results.push(r);
  }
  return results;
}

describe("connect4 over a real server", () => {
  it("starts with an empty board and the agent to move", async () => {
    await using env = await connect();
    const r = await env.reset({ seed: 1 });
    expect(r.observation.board).toEqual(new Array(42).fill(0));
    expect(r.observation.legalColumns).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(r.observation.status).toBe(GameStatus.IN_PROGRESS);
    expect(r.observation.opponentColumn).toBeUndefined();
    expect(r.observation.render.split("\n")).toHaveLength(8);
    const after = await env.step({ column: 3 });
    const pieces = after.observation.board.filter((v) => v !== 0);
    expect(pieces.sort()).toEqual([AGENT, OPPONENT]);
    expect(after.observation.board[5 * 7 + 3]).toBe(AGENT); // the piece falls to the bottom row
    expect(after.observation.opponentColumn).toBeGreaterThanOrEqual(0);
    expect(after.observation.render).toContain("X");
    expect(after.rewardComponents).toEqual({ outcome: 0, invalid_move: 0 });
    expect((await env.state()).moves).toEqual([3, after.observation.opponentColumn]);
  });

  it("lets the opponent open when agent_first is false", async () => {
    await using env = await connect();
    const r = await env.reset({ seed: 2, options: { agent_first: false } });
    expect(r.observation.board.filter((v) => v === OPPONENT)).toHaveLength(1);
    expect(r.observation.opponentColumn).toBeDefined();
  });

  it("wins by connecting four against the random opponent: terminated, +1, discounted credit", async () => {
    await using env = await connect();
    let won: Result[] | undefined;
    for (let seed = 1; seed <= 200 && won === undefined; seed++) {
      const first = await env.reset({ seed, options: { opponent: "random" } });
      const results = await playOut(env, first, (r) => (r.observation.legalColumns.includes(0) ? 0 : r.observation.legalColumns[0]));
      if (results.at(-1)?.observation.status === GameStatus.WON) won = results;
    }
    expect(won, "some seed lets a vertical line through").toBeDefined();
    const last = won?.at(-1) as Result;
    expect(last.terminated).toBe(true);
    expect(last.reward).toBe(1);
    expect(last.rewardComponents).toEqual({ outcome: 1, invalid_move: 0 });
    expect(last.observation.winningCells).toHaveLength(4);
    for (const cell of last.observation.winningCells) expect(last.observation.board[cell]).toBe(AGENT);
    expect(last.observation.legalColumns).toEqual([]);
    const steps = (won?.length ?? 1) - 1;
    const credit = last.metadata.step_credit as number[];
    expect(credit).toHaveLength(steps);
    for (const [t, c] of credit.entries()) expect(c).toBeCloseTo(0.95 ** (steps - 1 - t));
    await expectConnectError(env.step({ column: 1 }), Code.FailedPrecondition, /is over/);
  });

  it("loses to minimax when playing badly: terminated, -1", async () => {
    await using env = await connect();
    const first = await env.reset({ seed: 3, options: { opponent: "minimax", depth: 3 } });
    const results = await playOut(env, first, (r) => r.observation.legalColumns.at(-1) as number);
    const last = results.at(-1) as Result;
    expect(last.observation.status).toBe(GameStatus.LOST);
    expect(last.reward).toBe(-1);
    expect(last.terminated).toBe(true);
    for (const cell of last.observation.winningCells) expect(last.observation.board[cell]).toBe(OPPONENT);
  });

  it("the heuristic opponent takes its wins and blocks the agent's", async () => {
    await using env = await connect();
    let blocks = 0;
    for (let seed = 1; seed <= 15; seed++) {
      const moves = new SeededRandom(BigInt(seed) * 7n);
      let r = await env.reset({ seed, options: { opponent: "heuristic" } });
      while (!r.done) {
        const column = moves.pick(r.observation.legalColumns);
        const before = new Board(r.observation.board);
        before.drop(column, AGENT);
        r = await env.step({ column });
        if (r.observation.status !== GameStatus.IN_PROGRESS && r.observation.status !== GameStatus.LOST) break;
        const legal = before.legalColumns();
        const ownWin = legal.filter((c) => before.wins(c, OPPONENT));
        const threats = legal.filter((c) => before.wins(c, AGENT));
        if (ownWin.length > 0) {
          expect(r.observation.status).toBe(GameStatus.LOST);
        } else if (threats.length === 1) {
          expect(r.observation.opponentColumn).toBe(threats[0]);
          blocks++;
        }
      }
    }
    expect(blocks).toBeGreaterThan(0);
  });

  it("rejects a move into a full column with INVALID_ARGUMENT, or penalises it in penalty mode", async () => {
    await using env = await connect();
    for (const mode of ["error", "penalty"] as const) {
      let checked = false;
      for (let seed = 1; seed <= 50 && !checked; seed++) {
        let r = await env.reset({ seed, options: { opponent: "random", invalid_move: mode } });
        while (!r.done && r.observation.legalColumns.includes(0)) r = await env.step({ column: 0 });
        if (r.done) continue; // the game ended before column 0 filled up; try another seed
        const board = r.observation.board;
        if (mode === "error") {
          await expectConnectError(env.step({ column: 0 }), Code.InvalidArgument, /^column: column 0 is full; legal columns: 1, 2/);
          expect((await env.state()).board).toEqual(board);
        } else {
          const p = await env.step({ column: 0 });
          expect(p.observation.invalidMove).toBe(true);
          expect(p.observation.board).toEqual(board);
          expect(p.reward).toBe(-1);
          expect(p.rewardComponents).toEqual({ outcome: 0, invalid_move: -1 });
          expect(p.done).toBe(false);
          expect((await env.state()).invalidMoves).toBe(1);
        }
        const ok = await env.step({ column: r.observation.legalColumns[0] });
        expect(ok.observation.invalidMove).toBe(false);
        checked = true;
      }
      expect(checked, `a game reached a full column 0 in ${mode} mode`).toBe(true);
    }
  });

  it("gives the same game for the same seed and moves, for every opponent", async () => {
    for (const opponent of ["random", "heuristic", "minimax"]) {
      const play = async (seed: number) => {
        await using env = await connect();
        const first = await env.reset({ seed, options: { opponent, depth: 2 } });
        const moves = new SeededRandom(11n);
        const results = await playOut(env, first, (r) => moves.pick(r.observation.legalColumns));
        return results.map((r) => [toBinary(Connect4ObservationSchema, r.observation), r.reward]);
      };
      const a = await play(77);
      expect(await play(77)).toEqual(a);
      if (opponent === "random") expect(await play(78)).not.toEqual(a);
    }
  });

  it("rejects bad actions and options", async () => {
    await using env = await connect();
    await env.reset({ seed: 1 });
    await expectConnectError(env.step({ column: 7 }), Code.InvalidArgument, /column: value must be less than or equal to 6/);
    await expectConnectError(env.step({ column: -1 }), Code.InvalidArgument, /column: value must be greater than or equal to 0/);
    await expectConnectError(
      env.reset({ options: { opponent: "grandmaster" } }),
      Code.InvalidArgument,
      /opponent: value must be one of 'random', 'heuristic', 'minimax'/,
    );
    await expectConnectError(env.reset({ options: { depth: 9 } }), Code.InvalidArgument, /depth: value must be less than or equal to 7/);
    const r = await env.reset({ seed: 1 });
    expect((await env.step({ column: 3 })).stepCount).toBe(1);
    expect(r.stepCount).toBe(0);
  });
});

describe("connect4 rules", () => {
  it("detects draws on a full board", () => {
    // Columns filled in pairs of rows so no four line up: a known draw pattern.
    const board = new Board();
    const pattern = [
      [1, 1, 2, 2, 1, 1, 2],
      [2, 2, 1, 1, 2, 2, 1],
      [1, 1, 2, 2, 1, 1, 2],
      [2, 2, 1, 1, 2, 2, 1],
      [1, 1, 2, 2, 1, 1, 2],
      [2, 2, 1, 1, 2, 2, 1],
    ];
    board.cells.splice(0, 42, ...pattern.flat());
    expect(board.full()).toBe(true);
    for (let i = 0; i < 42; i++) expect(board.lineThrough(i)).toBeUndefined();
  });
});
