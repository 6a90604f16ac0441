// Builds the /web page into dist/web (index.html, app.js, app.css) and checks its size.
// Run by `npm run build` (and `prepare`); `npm run web:size` reports the gzipped size.
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

/** The budget of the page: everything a browser downloads, gzipped. */
export const WEB_BUDGET_BYTES = 150 * 1024;

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "web");
const files = ["index.html", "app.js", "app.css"];

/** Bundles the page; returns the gzipped size of each file. */
export async function buildWeb(outDir = out): Promise<Record<string, { bytes: number; gzip: number }>> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [join(root, "src", "web", "app", "main.ts")],
    outfile: join(outDir, "app.js"),
    bundle: true,
    minify: true,
    format: "iife",
    target: ["chrome111", "firefox113", "safari16.4"],
    platform: "browser",
    legalComments: "none",
    logLevel: "warning",
  });
  for (const f of ["index.html", "app.css"]) copyFileSync(join(root, "src", "web", "static", f), join(outDir, f));
  const sizes: Record<string, { bytes: number; gzip: number }> = {};
  for (const f of files) {
    const data = readFileSync(join(outDir, f));
    sizes[f] = { bytes: data.length, gzip: gzipSync(data, { level: 9 }).length };
  }
  return sizes;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const sizes = await buildWeb();
  const total = Object.values(sizes).reduce((s, x) => s + x.gzip, 0);
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`;
  const lines = Object.entries(sizes).map(([f, s]) => `  ${f.padEnd(11)} ${kb(s.bytes).padStart(9)}  gzip ${kb(s.gzip).padStart(8)}`);
  process.stdout.write(`web page (dist/web):\n${lines.join("\n")}\n  total gzip ${kb(total)} of a ${kb(WEB_BUDGET_BYTES)} budget\n`);
  if (total > WEB_BUDGET_BYTES) {
    process.stderr.write(`the web page is ${kb(total)} gzipped, over its ${kb(WEB_BUDGET_BYTES)} budget\n`);
    process.exit(1);
  }
}
