import type { SeededRandom } from "../common/random.js";

/** A generated maze: a grid of walls and open cells, with the start and goal. */
export interface MazeLayout {
  readonly rows: number;
  readonly cols: number;
  /** `true` for a wall, row-major. */
  readonly walls: readonly boolean[];
  readonly start: readonly [number, number];
  readonly goal: readonly [number, number];
  /** Shortest-path distance of every open cell to the goal (-1 for walls), row-major. */
  readonly distance: readonly number[];
}

/** Moves as [row delta, column delta], indexed like the Direction enum (1 up, 2 down, 3 left, 4 right). */
export const moves: readonly (readonly [number, number])[] = [
  [0, 0],
  [-1, 0],
  [1, 0],
  [0, -1],
  [0, 1],
];

/**
 * Carves a maze of `width` x `height` rooms with a randomised depth-first
 * search, so there is exactly one path between two rooms; `loopFraction`
 * then knocks down that share of the remaining inner walls between rooms to
 * create loops. The grid has a wall border: (2*height+1) x (2*width+1).
 * The start is the top-left room, the goal the bottom-right one.
 */
export function generateMaze(width: number, height: number, loopFraction: number, random: SeededRandom): MazeLayout {
  const rows = 2 * height + 1;
  const cols = 2 * width + 1;
  const walls = new Array<boolean>(rows * cols).fill(true);
  const at = (r: number, c: number): number => r * cols + c;
  const visited = new Array<boolean>(width * height).fill(false);
  const stack: [number, number][] = [[0, 0]];
  visited[0] = true;
  walls[at(1, 1)] = false;
  const steps: readonly (readonly [number, number])[] = moves.slice(1);
  while (stack.length > 0) {
    const [ry, rx] = stack[stack.length - 1];
    const options = steps
      .map(([dy, dx]) => [ry + dy, rx + dx] as [number, number])
      .filter(([y, x]) => y >= 0 && y < height && x >= 0 && x < width && !visited[y * width + x]);
    if (options.length === 0) {
      stack.pop();
      continue;
    }
    const [ny, nx] = random.pick(options);
    visited[ny * width + nx] = true;
    walls[at(ry + ny + 1, rx + nx + 1)] = false; // the wall between the two rooms
    walls[at(2 * ny + 1, 2 * nx + 1)] = false;
    stack.push([ny, nx]);
  }
  if (loopFraction > 0) {
    const inner: number[] = [];
    for (let r = 1; r < rows - 1; r++) {
      for (let c = 1; c < cols - 1; c++) {
        // A wall between two rooms sits where exactly one coordinate is even.
        if (walls[at(r, c)] && (r % 2) + (c % 2) === 1) inner.push(at(r, c));
      }
    }
    random.shuffle(inner);
    const remove = Math.round(inner.length * loopFraction);
    for (let i = 0; i < remove; i++) walls[inner[i]] = false;
  }
  const start: [number, number] = [1, 1];
  const goal: [number, number] = [rows - 2, cols - 2];
  return { rows, cols, walls, start, goal, distance: distances(rows, cols, walls, goal) };
}

/** Breadth-first distances to `goal` over open cells. */
function distances(rows: number, cols: number, walls: readonly boolean[], goal: readonly [number, number]): number[] {
  const dist = new Array<number>(rows * cols).fill(-1);
  const queue: number[] = [goal[0] * cols + goal[1]];
  dist[queue[0]] = 0;
  for (let head = 0; head < queue.length; head++) {
    const cell = queue[head];
    const r = Math.floor(cell / cols);
    const c = cell % cols;
    for (const [dy, dx] of moves.slice(1)) {
      const next = (r + dy) * cols + (c + dx);
      if (!walls[next] && dist[next] < 0) {
        dist[next] = dist[cell] + 1;
        queue.push(next);
      }
    }
  }
  return dist;
}
