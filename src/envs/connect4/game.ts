/** Rows of the board. */
export const ROWS = 6;
/** Columns of the board. */
export const COLS = 7;
/** An empty cell. */
export const EMPTY = 0;
/** The agent's piece. */
export const AGENT = 1;
/** The opponent's piece. */
export const OPPONENT = 2;

const directions: readonly (readonly [number, number])[] = [
  [0, 1],
  [1, 0],
  [1, 1],
  [1, -1],
];

/** A Connect Four board: 6x7 cells, row-major, row 0 at the top. */
export class Board {
  readonly cells: number[];

  constructor(cells?: readonly number[]) {
    this.cells = cells === undefined ? new Array<number>(ROWS * COLS).fill(EMPTY) : [...cells];
  }

  clone(): Board {
    return new Board(this.cells);
  }

  /** Columns that are not full, left to right. */
  legalColumns(): number[] {
    const out: number[] = [];
    for (let c = 0; c < COLS; c++) if (this.cells[c] === EMPTY) out.push(c);
    return out;
  }

  /** Row a piece dropped into `column` lands on; -1 when the column is full. */
  landingRow(column: number): number {
    for (let r = ROWS - 1; r >= 0; r--) if (this.cells[r * COLS + column] === EMPTY) return r;
    return -1;
  }

  /** Drops a piece; returns the cell index it landed on (-1 when the column is full). */
  drop(column: number, piece: number): number {
    const row = this.landingRow(column);
    if (row < 0) return -1;
    const index = row * COLS + column;
    this.cells[index] = piece;
    return index;
  }

  /** Removes the top piece of a column (for search). */
  undo(column: number): void {
    for (let r = 0; r < ROWS; r++) {
      if (this.cells[r * COLS + column] !== EMPTY) {
        this.cells[r * COLS + column] = EMPTY;
        return;
      }
    }
  }

  /** The four-or-more line through `index` of the piece there, or undefined. */
  lineThrough(index: number): number[] | undefined {
    const piece = this.cells[index];
    if (piece === EMPTY) return undefined;
    const r0 = Math.floor(index / COLS);
    const c0 = index % COLS;
    for (const [dr, dc] of directions) {
      const line = [index];
      for (const sign of [1, -1]) {
        for (let k = 1; k < 4; k++) {
          const r = r0 + sign * k * dr;
          const c = c0 + sign * k * dc;
          if (r < 0 || r >= ROWS || c < 0 || c >= COLS || this.cells[r * COLS + c] !== piece) break;
          line.push(r * COLS + c);
        }
      }
      if (line.length >= 4) return line.sort((a, b) => a - b).slice(0, 4);
    }
    return undefined;
  }

  /** True when dropping `piece` into `column` would connect four. */
  wins(column: number, piece: number): boolean {
    const index = this.drop(column, piece);
    if (index < 0) return false;
    const won = this.lineThrough(index) !== undefined;
    this.undo(column);
    return won;
  }

  /** The board is full. */
  full(): boolean {
    return this.legalColumns().length === 0;
  }

  /** Text render: 'X' agent, 'O' opponent, '.' empty, column numbers below. */
  render(): string {
    const lines: string[] = [];
    for (let r = 0; r < ROWS; r++) {
      const row: string[] = [];
      for (let c = 0; c < COLS; c++) row.push(".XO"[this.cells[r * COLS + c]]);
      lines.push(row.join(" "));
    }
    lines.push("0 1 2 3 4 5 6");
    return `${lines.join("\n")}\n`;
  }
}
