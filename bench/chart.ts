// A dependency-free SVG bar chart of steps/s per case, with the floors drawn as lines.
import type { Row } from "./run.js";

interface Report {
  readonly started: string;
  readonly node: string;
  readonly floors: Record<string, number>;
  readonly rows: readonly Row[];
}

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Renders every measured case (except idle capacity) as a horizontal bar. */
export function renderChart(report: Report): string {
  const rows = report.rows.filter((r) => r.group !== "idle" && Number.isFinite(r.stepsPerSec));
  const labelWidth = 360;
  const barWidth = 560;
  const rowHeight = 22;
  const top = 48;
  const height = top + rows.length * rowHeight + 40;
  const max = Math.max(1, ...rows.map((r) => r.stepsPerSec), ...Object.values(report.floors)) * 1.05;
  const x = (v: number): number => labelWidth + (v / max) * barWidth;
  const colour: Record<string, string> = { floor: "#888", protocol: "#2b6cb0", sessions: "#2f855a", large: "#b7791f", openenv: "#c53030" };
  const parts: string[] = [];
  parts.push(
    `<text x="10" y="20" font-size="14" font-weight="bold">openenv-connect: steps/s per case (${esc(report.node)}, ${esc(report.started)})</text>`,
  );
  parts.push(
    `<text x="10" y="38" font-size="11" fill="#555">bars: steps/s (sessions × connections); dashed lines: floors measured in the same run</text>`,
  );
  rows.forEach((r, i) => {
    const y = top + i * rowHeight;
    const label = `${r.group}: ${r.name}${r.sessions > 1 ? ` ×${r.sessions}${r.connections === "shared" ? " (1 conn)" : ""}` : ""}`;
    parts.push(`<text x="${labelWidth - 6}" y="${y + 15}" font-size="11" text-anchor="end">${esc(label)}</text>`);
    parts.push(
      `<rect x="${labelWidth}" y="${y + 4}" width="${Math.max(1, x(r.stepsPerSec) - labelWidth).toFixed(1)}" height="${rowHeight - 8}" fill="${colour[r.group] ?? "#555"}"/>`,
    );
    parts.push(
      `<text x="${(x(r.stepsPerSec) + 4).toFixed(1)}" y="${y + 15}" font-size="10">${Math.round(r.stepsPerSec).toLocaleString("en-US")}</text>`,
    );
  });
  for (const [name, value] of Object.entries(report.floors)) {
    const fx = x(value).toFixed(1);
    parts.push(`<line x1="${fx}" y1="${top}" x2="${fx}" y2="${height - 30}" stroke="#000" stroke-dasharray="4 3"/>`);
    parts.push(
      `<text x="${fx}" y="${height - 16}" font-size="10" text-anchor="middle">${esc(name)} floor ${Math.round(value).toLocaleString("en-US")}/s</text>`,
    );
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + barWidth + 80}" height="${height}" font-family="sans-serif">\n<title>openenv-connect benchmark: steps/s per case</title>\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join("\n")}\n</svg>\n`;
}
