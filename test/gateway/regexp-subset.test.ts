import { describe, expect, it } from "vitest";
import { isRe2Compatible } from "../../src/gateway/regexp-subset.js";

describe("isRe2Compatible: patterns RE2 and ECMAScript read alike", () => {
  it.each([
    "^[A-Z]{3}$",
    "^[a-h][1-8][a-h][1-8][qrbn]?$",
    "^\\d{3}-\\d{4}$",
    "^(?:ab|cd)+?\\b",
    "[\\w\\-.]+@[a-z]+\\.com",
    "^[^\\n\\r]*$",
    "\\x41{2,1000}",
  ])("accepts %s", (p) => expect(isRe2Compatible(p)).toBe(true));

  it.each([
    ["^.+$", "`.` also stops at \\r, U+2028, U+2029 in ECMAScript"],
    ["\\s", "\\s is Unicode in ECMAScript, ASCII in RE2"],
    ["^(?=a)", "lookahead"],
    ["(?<!a)b", "lookbehind"],
    ["(a)\\1", "backreference"],
    ["(?<name>a)", "named group"],
    ["\\u00e9", "\\u escape"],
    ["[[:alpha:]]", "POSIX class in RE2"],
    ["[^]", "empty negated class"],
    ["a{1001}", "over RE2's repeat limit"],
    ["(", "not a regular expression"],
    ["\\q", "an identity escape the u flag refuses"],
  ])("refuses %s (%s)", (p) => expect(isRe2Compatible(p)).toBe(false));
});
