/**
 * JSON Schema's `pattern` is an ECMAScript regular expression; protovalidate's
 * `string.pattern` is RE2, and the gateway's own validator runs it as an
 * ECMAScript `RegExp` with the `u` flag. A pattern is written as a rule only
 * when both engines read it the same way, which this conservative scanner
 * checks: literals, escaped punctuation, `\d \D \w \W \b \B`, control escapes,
 * `\xHH`, bracket classes, `(...)`, `(?:...)`, `|`, `^`, `$` and the
 * quantifiers `* + ? {n} {n,} {n,m}` (lazy or not, counts up to RE2's 1000).
 *
 * Left out because the engines differ: `.` (ECMAScript also stops at `\r`,
 * U+2028, U+2029), `\s` (Unicode in ECMAScript, ASCII in RE2), lookarounds and
 * backreferences (not in RE2), named groups, `\u` escapes, `[[:alpha:]]`,
 * `[]` and `[^]`. Such a pattern stays the upstream's to check.
 */
export function isRe2Compatible(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
  } catch {
    return false;
  }
  let i = 0;
  let atomBefore = false;
  while (i < pattern.length) {
    const ch = pattern[i] as string;
    if (ch === "\\") {
      const n = escapeLength(pattern, i, false);
      if (n === 0) return false;
      i += n;
      atomBefore = true;
    } else if (ch === "[") {
      const n = classLength(pattern, i);
      if (n === 0) return false;
      i += n;
      atomBefore = true;
    } else if (ch === "(") {
      if (pattern[i + 1] === "?") {
        if (pattern[i + 2] !== ":") return false;
        i += 3;
      } else i += 1;
      atomBefore = false;
    } else if (ch === "*" || ch === "+" || ch === "?") {
      if (!atomBefore) return false;
      i += pattern[i + 1] === "?" ? 2 : 1;
      atomBefore = false;
    } else if (ch === "{") {
      const m = /^\{(\d+)(,(\d*))?\}\??/.exec(pattern.slice(i));
      if (m === null || !atomBefore) return false;
      if (Number(m[1]) > 1000 || (m[3] !== undefined && m[3] !== "" && Number(m[3]) > 1000)) return false;
      i += m[0].length;
      atomBefore = false;
    } else if (ch === ".") {
      return false;
    } else {
      i += 1;
      atomBefore = ch !== "|" && ch !== "^" && ch !== "$";
    }
  }
  return true;
}

const CLASS_ESCAPES = new Set(["d", "D", "w", "W", "n", "r", "t", "f", "v"]);

/** Length of the escape at `i`, or 0 when it is outside the shared subset. */
function escapeLength(p: string, i: number, inClass: boolean): number {
  const next = p[i + 1];
  if (next === undefined) return 0;
  if (CLASS_ESCAPES.has(next)) return 2;
  if (!inClass && (next === "b" || next === "B")) return 2;
  if (next === "x") return /^[0-9a-fA-F]{2}$/.test(p.slice(i + 2, i + 4)) ? 4 : 0;
  // Under the `u` flag ECMAScript accepts only syntax characters (and `-` in a class) escaped.
  return /[\^$\\.*+?()[\]{}|/-]/.test(next) ? 2 : 0;
}

/** Length of the bracket class at `i`, or 0 when it is outside the shared subset. */
function classLength(p: string, start: number): number {
  let i = start + 1;
  if (p[i] === "^") i++;
  if (p[i] === "]") return 0; // `[]` / `[^]`: empty in ECMAScript, a literal `]` in RE2
  while (i < p.length) {
    const ch = p[i] as string;
    if (ch === "]") return i + 1 - start;
    if (ch === "[") return 0; // RE2 reads `[[:alpha:]]` as a POSIX class
    if (ch === "\\") {
      const n = escapeLength(p, i, true);
      if (n === 0) return 0;
      i += n;
    } else {
      i += 1;
    }
  }
  return 0;
}
