/**
 * Deepest nesting of arrays and objects accepted in a JSON message: protobuf's
 * own recursion limit. Deeper values would overflow the stack of the recursive
 * conversions that follow parsing (a 100,000-deep array did), so they are
 * refused up front as bad input.
 */
export const maxJsonDepth = 100;

/**
 * Checks a parsed JSON value's nesting without recursion; returns why it is
 * refused, or undefined when it is within `limit`.
 */
export function jsonDepthError(value: unknown, limit = maxJsonDepth): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (depth > limit) return `JSON nested deeper than ${limit} levels of arrays and objects`;
    const children = Array.isArray(v) ? v : Object.values(v as object);
    for (const c of children) if (c !== null && typeof c === "object") stack.push([c, depth + 1]);
  }
  return undefined;
}
