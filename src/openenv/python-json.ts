/**
 * Python's `json` module error messages, for OpenEnv-compatible error texts.
 *
 * OpenEnv's server parses with Python's `json.loads`, and its clients (and
 * people reading logs) see that module's messages, e.g.
 * `Expecting property name enclosed in double quotes: line 1 column 2 (char 1)`.
 * V8's `JSON.parse` words its errors differently and counts UTF-16 units, so
 * when `JSON.parse` fails this scanner re-reads the text the way CPython's C
 * scanner (`Modules/_json.c`) does and reports its message and position.
 */

/** Where and why Python's `json.loads` would reject a text. */
export interface PythonJsonError {
  /** The bare message, e.g. `Expecting value` (FastAPI's `ctx.error`). */
  readonly msg: string;
  /** Position in code points (Python's `JSONDecodeError.pos`). */
  readonly pos: number;
  readonly lineno: number;
  readonly colno: number;
  /** `str(JSONDecodeError)`: `msg: line L column C (char P)`. */
  readonly text: string;
}

class Fail extends Error {
  constructor(
    readonly msg: string,
    readonly at: number,
  ) {
    super(msg);
  }
}

/** Thrown by a value scan that finds no value at `at` (Python's StopIteration). */
class NoValue extends Error {
  constructor(readonly at: number) {
    super("no value");
  }
}

const isWs = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\n" || c === "\r";
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?/y;
const HEX = /^[0-9a-fA-F]$/;

/**
 * Parses JSON like `JSON.parse`; on failure throws a {@link PythonJsonSyntaxError}
 * carrying Python's message and position.
 */
export function parseJsonLikePython(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new PythonJsonSyntaxError(describeJsonError(text));
  }
}

/** A JSON syntax error worded as Python's `json.JSONDecodeError`. */
export class PythonJsonSyntaxError extends SyntaxError {
  constructor(readonly detail: PythonJsonError) {
    super(detail.text);
  }
}

/** Python's error for a text that `JSON.parse` rejected. */
export function describeJsonError(s: string): PythonJsonError {
  try {
    if (s.startsWith("\ufeff")) throw new Fail("Unexpected UTF-8 BOM (decode using utf-8-sig)", 0);
    let i = skipWs(s, 0);
    try {
      i = scanValue(s, i);
    } catch (err) {
      if (err instanceof NoValue) throw new Fail("Expecting value", err.at);
      throw err;
    }
    i = skipWs(s, i);
    if (i !== s.length) throw new Fail("Extra data", i);
    // Python would accept it (NaN, Infinity): JSON.parse did not.
    return build(s, "Expecting value", firstNonFinite(s));
  } catch (err) {
    if (err instanceof Fail) return build(s, err.msg, err.at);
    throw err;
  }
}

function firstNonFinite(s: string): number {
  const m = /NaN|-?Infinity/.exec(s);
  return m === null ? 0 : m.index;
}

function build(s: string, msg: string, at: number): PythonJsonError {
  let pos = 0;
  let lineno = 1;
  let lineStart = 0;
  for (let i = 0; i < at && i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code >= 0xdc00 && code <= 0xdfff && i > 0) {
      const prev = s.charCodeAt(i - 1);
      if (prev >= 0xd800 && prev <= 0xdbff) continue; // second half of a pair: one code point
    }
    pos++;
    if (code === 10) {
      lineno++;
      lineStart = pos;
    }
  }
  const colno = pos - lineStart + 1;
  return { msg, pos, lineno, colno, text: `${msg}: line ${lineno} column ${colno} (char ${pos})` };
}

function skipWs(s: string, i: number): number {
  while (i < s.length && isWs(s[i])) i++;
  return i;
}

function scanValue(s: string, i: number): number {
  if (i >= s.length) throw new NoValue(i);
  const c = s[i];
  if (c === '"') return scanString(s, i + 1);
  if (c === "{") return scanObject(s, i + 1);
  if (c === "[") return scanArray(s, i + 1);
  if (c === "n" && s.startsWith("null", i)) return i + 4;
  if (c === "t" && s.startsWith("true", i)) return i + 4;
  if (c === "f" && s.startsWith("false", i)) return i + 5;
  NUMBER.lastIndex = i;
  const m = NUMBER.exec(s);
  if (m !== null) return i + m[0].length;
  if (c === "N" && s.startsWith("NaN", i)) return i + 3;
  if (c === "I" && s.startsWith("Infinity", i)) return i + 8;
  if (c === "-" && s.startsWith("-Infinity", i)) return i + 9;
  throw new NoValue(i);
}

function scanString(s: string, end: number): number {
  const begin = end - 1;
  let next = end;
  for (;;) {
    let c: string | undefined;
    for (; next < s.length; next++) {
      c = s[next];
      if (c === '"' || c === "\\") break;
      if ((c as string).charCodeAt(0) <= 0x1f) throw new Fail("Invalid control character at", next);
    }
    if (next >= s.length) throw new Fail("Unterminated string starting at", begin);
    if (s[next] === '"') return next + 1;
    next++; // the backslash
    if (next >= s.length) throw new Fail("Unterminated string starting at", begin);
    const e = s[next] as string;
    if (e !== "u") {
      if (!'"\\/bfnrt'.includes(e)) throw new Fail("Invalid \\escape", next - 1);
      next++;
      continue;
    }
    next++;
    const stop = next + 4;
    if (stop >= s.length) throw new Fail("Invalid \\uXXXX escape", next - 1);
    for (; next < stop; next++) if (!HEX.test(s[next] as string)) throw new Fail("Invalid \\uXXXX escape", stop - 5);
  }
}

function scanObject(s: string, i: number): number {
  i = skipWs(s, i);
  if (s[i] === "}") return i + 1;
  for (;;) {
    if (s[i] !== '"') throw new Fail("Expecting property name enclosed in double quotes", i);
    i = skipWs(s, scanString(s, i + 1));
    if (s[i] !== ":") throw new Fail("Expecting ':' delimiter", i);
    i = skipWs(s, scanValue(s, skipWs(s, i + 1)));
    if (s[i] === "}") return i + 1;
    if (s[i] !== ",") throw new Fail("Expecting ',' delimiter", i);
    i = skipWs(s, i + 1);
  }
}

function scanArray(s: string, i: number): number {
  i = skipWs(s, i);
  if (s[i] === "]") return i + 1;
  for (;;) {
    i = skipWs(s, scanValue(s, i));
    if (s[i] === "]") return i + 1;
    if (s[i] !== ",") throw new Fail("Expecting ',' delimiter", i);
    i = skipWs(s, i + 1);
  }
}
