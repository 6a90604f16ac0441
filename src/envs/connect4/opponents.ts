import type { SeededRandom } from "../common/random.js";
import { AGENT, type Board, COLS, EMPTY, OPPONENT, ROWS } from "./game.js";

/** A built-in opponent policy: picks a column for the opponent. */
export type Opponent = (board: Board, random: SeededRandom) => number;

/** Weights of the columns for the heuristic opponent: the centre connects more lines. */
const centreWeights = [1, 2, 3, 4, 3, 2, 1];

/** A uniformly random legal column. */
export const randomOpponent: Opponent = (board, random) => random.pick(board.legalColumns());

/**
 * Wins when it can, blocks the agent's immediate win, else picks a random
 * legal column weighted towards the centre, avoiding columns that hand the
 * agent a win on top when it has another choice.
 */
export const heuristicOpponent: Opponent = (board, random) => {
  const legal = board.legalColumns();
  const win = legal.find((c) => board.wins(c, OPPONENT));
  if (win !== undefined) return win;
  const block = legal.find((c) => board.wins(c, AGENT));
  if (block !== undefined) return block;
  const safe = legal.filter((c) => {
    board.drop(c, OPPONENT);
    const givesWin = board.landingRow(c) >= 0 && board.wins(c, AGENT);
    board.undo(c);
    return !givesWin;
  });
  const choices = safe.length > 0 ? safe : legal;
  const total = choices.reduce((s, c) => s + centreWeights[c], 0);
  let x = random.int(total);
  for (const c of choices) {
    x -= centreWeights[c];
    if (x < 0) return c;
  }
  return choices[choices.length - 1];
};

/** Scores a window of four cells for the opponent (positive) against the agent. */
function windowScore(a: number, b: number, c: number, d: number): number {
  let mine = 0;
  let theirs = 0;
  for (const v of [a, b, c, d]) {
    if (v === OPPONENT) mine++;
    else if (v === AGENT) theirs++;
  }
  if (mine > 0 && theirs > 0) return 0;
  if (mine === 3) return 5;
  if (mine === 2) return 2;
  if (theirs === 3) return -4;
  if (theirs === 2) return -1;
  return 0;
}

/** Static evaluation of a position for the opponent. */
function evaluate(board: Board): number {
  const g = board.cells;
  let score = 0;
  for (let r = 0; r < ROWS; r++) if (g[r * COLS + 3] === OPPONENT) score += 3;
  for (let r = 0; r < ROWS; r++) {
    for (let c = 0; c < COLS; c++) {
      const at = (rr: number, cc: number): number => g[rr * COLS + cc];
      if (c + 3 < COLS) score += windowScore(at(r, c), at(r, c + 1), at(r, c + 2), at(r, c + 3));
      if (r + 3 < ROWS) score += windowScore(at(r, c), at(r + 1, c), at(r + 2, c), at(r + 3, c));
      if (r + 3 < ROWS && c + 3 < COLS) score += windowScore(at(r, c), at(r + 1, c + 1), at(r + 2, c + 2), at(r + 3, c + 3));
      if (r + 3 < ROWS && c - 3 >= 0) score += windowScore(at(r, c), at(r + 1, c - 1), at(r + 2, c - 2), at(r + 3, c - 3));
    }
  }
  return score;
}

const WIN = 1_000_000;

function search(board: Board, depth: number, alpha: number, beta: number, maximising: boolean, order: readonly number[]): number {
  const piece = maximising ? OPPONENT : AGENT;
  const legal = order.filter((c) => board.cells[c] === EMPTY);
  if (legal.length === 0) return 0;
  for (const c of legal) {
    if (board.wins(c, piece)) return maximising ? WIN + depth : -WIN - depth;
  }
  if (depth === 0) return evaluate(board);
  let best = maximising ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  for (const c of legal) {
    board.drop(c, piece);
    const v = search(board, depth - 1, alpha, beta, !maximising, order);
    board.undo(c);
    if (maximising) {
      best = Math.max(best, v);
      alpha = Math.max(alpha, v);
    } else {
      best = Math.min(best, v);
      beta = Math.min(beta, v);
    }
    if (alpha >= beta) break;
  }
  return best;
}

/** Alpha-beta search to `depth` plies; ties between equally good columns are broken by the seeded generator. */
export function minimaxOpponent(depth: number): Opponent {
  return (board, random) => {
    const order = [3, 2, 4, 1, 5, 0, 6];
    const legal = order.filter((c) => board.cells[c] === EMPTY);
    let best = Number.NEGATIVE_INFINITY;
    let bestColumns: number[] = [];
    for (const c of legal) {
      if (board.wins(c, OPPONENT)) return c;
    }
    for (const c of legal) {
      board.drop(c, OPPONENT);
      const v = search(board, depth - 1, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, false, order);
      board.undo(c);
      if (v > best) {
        best = v;
        bestColumns = [c];
      } else if (v === best) {
        bestColumns.push(c);
      }
    }
    return random.pick(bestColumns.sort((a, b) => a - b));
  };
}
