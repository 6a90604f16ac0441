import { svg } from "./dom.js";

const W = 560;
const H = 180;
const PAD = { left: 44, right: 12, top: 12, bottom: 26 };

function fmt(n: number): string {
  return Math.abs(n) >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(2);
}

/**
 * The reward of each step of the episode (dots and line) and the running return
 * (dashed), as an inline SVG that scales with its container.
 */
export function rewardChart(rewards: readonly (number | null)[]): SVGElement {
  const values = rewards.map((r) => r ?? 0);
  const returns: number[] = [];
  values.reduce((sum, r) => {
    returns.push(sum + r);
    return sum + r;
  }, 0);
  const all = [...values, ...returns, 0];
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi - lo < 1e-9) {
    hi += 1;
    lo -= hi === 1 ? 0 : 1;
  }
  const n = Math.max(values.length, 2);
  const x = (i: number): number => PAD.left + ((W - PAD.left - PAD.right) * i) / (n - 1);
  const y = (v: number): number => PAD.top + ((H - PAD.top - PAD.bottom) * (hi - v)) / (hi - lo);
  const last = values.length > 0 ? values[values.length - 1] : undefined;
  const summary =
    values.length === 0
      ? "Reward chart: no steps yet"
      : `Reward chart: ${values.length} steps, last reward ${fmt(last ?? 0)}, return ${fmt(returns[returns.length - 1] ?? 0)}`;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": summary });
  root.append(svg("title", {}, summary));
  // Axes and the zero line.
  root.append(svg("line", { x1: PAD.left, y1: y(0), x2: W - PAD.right, y2: y(0), class: "zero" }));
  root.append(svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom, class: "axis" }));
  root.append(svg("text", { x: PAD.left - 6, y: y(hi) + 4, class: "tick", "text-anchor": "end" }, fmt(hi)));
  root.append(svg("text", { x: PAD.left - 6, y: y(lo) + 4, class: "tick", "text-anchor": "end" }, fmt(lo)));
  if (values.length > 0) {
    root.append(svg("text", { x: x(0), y: H - 8, class: "tick", "text-anchor": "middle" }, "1"));
    root.append(svg("text", { x: x(values.length - 1), y: H - 8, class: "tick", "text-anchor": "middle" }, String(values.length)));
  }
  if (values.length === 0) {
    root.append(svg("text", { x: W / 2, y: H / 2, class: "empty", "text-anchor": "middle" }, "Rewards appear here as you step"));
    return root;
  }
  const line = (vs: number[]): string => vs.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  root.append(svg("path", { d: line(returns), class: "return" }));
  root.append(svg("path", { d: line(values), class: "reward" }));
  values.forEach((v, i) => {
    if (values.length <= 200)
      root.append(svg("circle", { cx: x(i), cy: y(v), r: 3, class: "dot" }, svg("title", {}, `step ${i + 1}: ${fmt(v)}`)));
  });
  return root;
}
