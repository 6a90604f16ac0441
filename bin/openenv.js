#!/usr/bin/env node
// The `openenv` CLI. In a source checkout (src/ present and tsx installed) it runs
// the TypeScript sources, so it never lags behind them; installed, it runs dist/.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "cli", "main.ts");
let main;
if (existsSync(source) && existsSync(join(root, "node_modules", "tsx"))) {
  const { tsImport } = await import("tsx/esm/api");
  main = await tsImport(source, import.meta.url);
} else {
  main = await import(join(root, "dist", "src", "cli", "main.js"));
}
// Exit as soon as the command is done: idle keep-alive connections (fetch, HTTP/1.1 agents)
// would otherwise hold the process open for seconds. stdout/stderr writes are synchronous
// for files and pipes on Linux, so nothing printed is lost.
process.exit(await main.run(process.argv.slice(2)));
