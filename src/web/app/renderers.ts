import { h } from "./dom.js";
import type { JsonRecord } from "./form.js";

/** What a renderer may do besides drawing. */
export interface RenderContext {
  /** The message type being drawn (full protobuf name, or a JSON Schema title against an OpenEnv server). */
  readonly typeName: string;
  /** Fills the action form with this action and steps, e.g. from a clicked board column. */
  act(action: JsonRecord): void;
  /** Whether the episode is over (renderers then offer no moves). */
  readonly done: boolean;
}

/**
 * Draws one message (an observation, or a partial observation such as a chunk of
 * output) as DOM. The message is JSON with proto field names and every field
 * present, enums by name. Return undefined to fall back to the JSON view.
 */
export type Renderer = (message: JsonRecord, ctx: RenderContext) => Node | string | undefined;

const renderers = new Map<string, Renderer>();
/** By short name too: an OpenEnv server reports JSON Schema titles (`MazeObservation`), not protobuf names. */
const byShortName = new Map<string, Renderer>();

function shortName(typeName: string): string {
  return typeName.slice(typeName.lastIndexOf(".") + 1);
}

/**
 * Registers the renderer of a message type, by full name
 * (`openenv.envs.maze.v1.MazeObservation`) or short name (`MazeObservation`,
 * which also matches the JSON Schema title an OpenEnv server reports).
 */
export function registerRenderer(typeName: string, render: Renderer): void {
  renderers.set(typeName, render);
  byShortName.set(shortName(typeName), render);
}

/** The renderer of a type: by full name, then by short name. */
export function rendererFor(typeName: string): Renderer | undefined {
  return renderers.get(typeName) ?? byShortName.get(shortName(typeName));
}

const str = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));
const num = (v: unknown): number => (typeof v === "number" ? v : typeof v === "string" ? Number(v) : 0);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const rec = (v: unknown): JsonRecord => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as JsonRecord) : {});

/** Enum names lose their prefix for display: DIRECTION_UP -> up. */
function enumLabel(v: unknown, prefix: string): string {
  return str(v)
    .replace(new RegExp(`^${prefix}_`), "")
    .toLowerCase()
    .replace(/_/g, " ");
}

function badge(text: string, kind = ""): HTMLElement {
  return h("span", { class: `badge ${kind}` }, text);
}

const arrows: Record<string, string> = { UP: "↑", DOWN: "↓", LEFT: "←", RIGHT: "→" };

function maze(o: JsonRecord, ctx: RenderContext): Node {
  const rows = str(o.render).replace(/\n$/, "").split("\n");
  const width = Math.max(...rows.map((r) => r.length), 1);
  const names: Record<string, string> = { "#": "wall", ".": "floor", A: "agent", G: "goal", " ": "floor" };
  const grid = h("div", {
    class: "maze",
    role: "img",
    "aria-label": `Maze ${num(o.rows)}×${num(o.cols)}: agent at row ${num(rec(o.position).row)}, column ${num(rec(o.position).col)}; goal at row ${num(rec(o.goal).row)}, column ${num(rec(o.goal).col)}`,
  });
  // Through the CSSOM: the page's CSP allows no inline style attributes.
  grid.style.gridTemplateColumns = `repeat(${width}, 1fr)`;
  for (const row of rows) for (const ch of row.padEnd(width, " ")) grid.append(h("span", { class: `cell ${names[ch] ?? "floor"}` }));
  const legal = new Set(list(o.legal_directions).map((d) => str(d).replace(/^DIRECTION_/, "")));
  const pad = h("div", { class: "dpad", role: "group", "aria-label": "Move" });
  for (const d of ["UP", "LEFT", "DOWN", "RIGHT"]) {
    pad.append(
      h(
        "button",
        {
          type: "button",
          class: `move ${d.toLowerCase()}`,
          disabled: ctx.done || !legal.has(d),
          "aria-label": `Move ${d.toLowerCase()}`,
          onclick: () => ctx.act({ direction: `DIRECTION_${d}` }),
        },
        arrows[d] ?? d,
      ),
    );
  }
  const facts = h(
    "p",
    { class: "facts" },
    badge(`${num(o.distance_to_goal)} to goal`),
    badge(`${num(o.steps_remaining)} steps left`),
    o.hit_wall === true ? badge("hit a wall", "warn") : null,
  );
  return h("div", { class: "render-maze" }, grid, h("div", { class: "side" }, pad, facts));
}

const ROWS = 6;
const COLS = 7;

function connect4(o: JsonRecord, ctx: RenderContext): Node {
  const cells = list(o.board).map(num);
  const winning = new Set(list(o.winning_cells).map(num));
  const legal = new Set(list(o.legal_columns).map(num));
  const status = enumLabel(o.status, "GAME_STATUS");
  const board = h("div", { class: "c4", role: "grid", "aria-label": `Connect Four board, ${status}` });
  const heads = h("div", { class: "c4-cols", role: "group", "aria-label": "Drop a piece" });
  for (let c = 0; c < COLS; c++) {
    heads.append(
      h(
        "button",
        { type: "button", disabled: ctx.done || !legal.has(c), "aria-label": `Drop in column ${c}`, onclick: () => ctx.act({ column: c }) },
        String(c),
      ),
    );
  }
  // The opponent's last piece is the top one of the column it played.
  let last = -1;
  if (o.opponent_column !== null && o.opponent_column !== undefined) {
    const col = num(o.opponent_column);
    for (let r = 0; r < ROWS && last < 0; r++) if (cells[r * COLS + col] !== 0) last = r * COLS + col;
  }
  for (let r = 0; r < ROWS; r++) {
    const row = h("div", { class: "c4-row", role: "row" });
    for (let c = 0; c < COLS; c++) {
      const i = r * COLS + c;
      const who = cells[i] === 1 ? "agent" : cells[i] === 2 ? "opponent" : "empty";
      row.append(
        h("span", {
          class: `disc ${who}${winning.has(i) ? " win" : ""}${i === last && who === "opponent" ? " last" : ""}`,
          role: "gridcell",
          "aria-label": `row ${r}, column ${c}: ${who}`,
        }),
      );
    }
    board.append(row);
  }
  const facts = h(
    "p",
    { class: "facts" },
    badge(status, status === "won" ? "good" : status === "lost" ? "bad" : ""),
    o.opponent_column !== null && o.opponent_column !== undefined ? badge(`opponent played ${num(o.opponent_column)}`) : null,
    o.invalid_move === true ? badge("invalid move", "warn") : null,
    h(
      "span",
      { class: "legend" },
      h("span", { class: "disc agent mini" }),
      " you ",
      h("span", { class: "disc opponent mini" }),
      " opponent",
    ),
  );
  return h("div", { class: "render-c4" }, heads, board, facts);
}

function wordle(o: JsonRecord): Node {
  const rows = h("div", { class: "wordle", role: "list", "aria-label": "Guesses" });
  for (const g of list(o.guesses).map(rec)) {
    const letters = list(g.letters).map((l) => enumLabel(l, "LETTER_FEEDBACK"));
    const word = str(g.guess).toUpperCase();
    const row = h("div", { class: "wordle-row", role: "listitem", "aria-label": `${word}: ${letters.join(", ")}` });
    [...word].forEach((ch, i) => {
      row.append(h("span", { class: `tile ${letters[i] ?? ""}`, "aria-hidden": "true" }, ch));
    });
    rows.append(row);
  }
  const remaining = num(o.guesses_remaining);
  for (let i = 0; i < Math.min(remaining, 6); i++) {
    const row = h("div", { class: "wordle-row empty", "aria-hidden": "true" });
    for (let j = 0; j < 5; j++) row.append(h("span", { class: "tile" }));
    rows.append(row);
  }
  const facts = h(
    "p",
    { class: "facts" },
    o.solved === true ? badge("solved", "good") : badge(`${remaining} guesses left`),
    str(o.secret) !== "" ? badge(`secret: ${str(o.secret).toUpperCase()}`) : null,
  );
  return h("div", { class: "render-wordle" }, rows, facts);
}

function chat(o: JsonRecord): Node {
  const log = h("ol", { class: "chat", "aria-label": "Transcript" });
  for (const m of list(o.messages).map(rec)) {
    const role = str(m.role) || "user";
    log.append(h("li", { class: `msg ${role}` }, h("span", { class: "role" }, role), h("div", { class: "content" }, str(m.content))));
  }
  const stop = enumLabel(o.stop_reason, "STOP_REASON");
  const facts = h(
    "p",
    { class: "facts" },
    badge(`turn ${num(o.turn)}`),
    badge(`${num(o.turns_remaining)} turns left`),
    stop !== "unspecified" && stop !== "" ? badge(`stopped: ${stop}`, "warn") : null,
  );
  const judge = str(o.judge_feedback) !== "" ? h("p", { class: "judge" }, h("strong", {}, "Judge: "), str(o.judge_feedback)) : null;
  return h("div", { class: "render-chat" }, log, facts, judge);
}

function code(o: JsonRecord): Node {
  const status = enumLabel(o.status, "EXECUTION_STATUS");
  const out = h("div", { class: "render-code" });
  out.append(
    h(
      "p",
      { class: "facts" },
      badge(status, status === "ok" ? "good" : "bad"),
      badge(`exit ${num(o.exit_code)}`),
      badge(`${num(o.duration_ms).toFixed(0)} ms`),
      badge(`execution ${num(o.execution_count)}`),
    ),
  );
  if (str(o.stdout) !== "") out.append(h("pre", { class: "stdout", "aria-label": "stdout" }, str(o.stdout)));
  if (str(o.stderr) !== "") out.append(h("pre", { class: "stderr", "aria-label": "stderr" }, str(o.stderr)));
  if (str(o.result) !== "") out.append(h("p", {}, h("strong", {}, "Result: "), h("code", {}, str(o.result))));
  if (str(o.error_name) !== "") out.append(h("p", { class: "bad-text" }, `${str(o.error_name)}: ${str(o.error_message)}`));
  const tests = list(o.tests).map(rec);
  if (tests.length > 0) {
    const ul = h("ul", { class: "tests" });
    for (const t of tests)
      ul.append(
        h(
          "li",
          { class: t.passed === true ? "pass" : "fail" },
          `${t.passed === true ? "✓" : "✗"} ${str(t.name)}`,
          t.message ? ` — ${str(t.message)}` : "",
        ),
      );
    out.append(ul);
  }
  return out;
}

/**
 * The browser environment: the goal, the page's address and last error, the
 * screenshot when the reset asked for one, and the accessibility tree with a
 * button per element id that clicks it.
 */
function webPage(o: JsonRecord, ctx: RenderContext): Node {
  const shot = rec(o.screenshot);
  const error = str(o.last_action_error);
  const out = h(
    "div",
    { class: "render-browser" },
    h("p", { class: "goal" }, h("strong", {}, "Goal: "), str(o.goal)),
    h(
      "p",
      { class: "facts" },
      badge(str(o.title) || "(no title)"),
      h("code", { class: "url" }, str(o.url)),
      badge(`${num(o.steps_remaining)} steps left`),
      error !== "" ? badge(error, "warn") : null,
    ),
  );
  if (str(shot.data) !== "")
    out.append(
      h("img", {
        class: "shot",
        src: `data:${str(shot.mime_type)};base64,${str(shot.data)}`,
        width: num(shot.width),
        height: num(shot.height),
        alt: `Screenshot of ${str(o.url)}`,
      }),
    );
  const tree = h("ul", { class: "axtree", "aria-label": "Accessibility tree" });
  for (const line of str(o.axtree_txt).split("\n")) {
    if (line.trim() === "") continue;
    const ref = /\[ref=((?:f\d+)?e\d+)\]/.exec(line)?.[1];
    tree.append(
      h(
        "li",
        {},
        h("code", {}, line),
        ref !== undefined && !ctx.done
          ? h("button", { type: "button", "aria-label": `Click ${ref}`, onclick: () => ctx.act({ click: { element_id: ref } }) }, "click")
          : null,
      ),
    );
  }
  out.append(tree);
  return out;
}

/** A chunk of a running program's output, appended to the live view as it arrives. */
function outputChunk(o: JsonRecord): Node {
  return h("span", { class: str(o.stream) === "OUTPUT_STREAM_STDERR" ? "stderr" : "stdout" }, str(o.text));
}

registerRenderer("openenv.envs.maze.v1.MazeObservation", maze);
registerRenderer("openenv.envs.connect4.v1.Connect4Observation", connect4);
registerRenderer("openenv.envs.wordle.v1.WordleObservation", wordle);
registerRenderer("openenv.envs.chat.v1.ChatObservation", chat);
registerRenderer("openenv.envs.coding.v1.CodeObservation", code);
registerRenderer("openenv.envs.coding.v1.CodeOutputChunk", outputChunk);
registerRenderer("openenv.envs.browser.v1.BrowserObservation", webPage);
