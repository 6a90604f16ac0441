// `npm run screenshots`: plays a few steps of echo, maze, connect4, coding and workspace on /web in
// headless Chromium and writes docs/web-<env>.png (shown in the README).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import { bundledEnvironments } from "../src/envs/bundled.js";
import { serve } from "../src/server/serve.js";
import { buildWeb } from "./build-web.js";
import { launchChromium } from "./web-browser.js";

const docs = join(fileURLToPath(new URL("..", import.meta.url)), "docs");

async function steps(page: Page, count: number): Promise<void> {
  await page.waitForFunction((n) => document.querySelectorAll("#history tbody tr").length >= n, count, { timeout: 60_000 });
}

async function reset(page: Page, seed: string): Promise<void> {
  await page.fill("#seed", seed);
  await page.click("#reset");
  await steps(page, 1);
}

/** Each environment's little episode; the screenshot is taken when it returns. */
const episodes: Record<string, (page: Page) => Promise<void>> = {
  async echo(page) {
    await reset(page, "1");
    let n = 1;
    for (const message of ["Hello, OpenEnv!", "protocol first", "typed actions, typed observations"]) {
      await page.fill("#action-message", message);
      await page.click("#step");
      await steps(page, ++n);
    }
  },
  async maze(page) {
    await reset(page, "3");
    let n = 1;
    for (const d of ["DOWN", "DOWN", "RIGHT", "RIGHT", "UP", "UP", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "DOWN", "DOWN"]) {
      await page.selectOption("#action-direction", `DIRECTION_${d}`);
      await page.click("#step");
      await steps(page, ++n);
    }
  },
  async connect4(page) {
    await reset(page, "3");
    let n = 1;
    for (const column of ["3", "3", "4", "2"]) {
      await page.fill("#action-column", column);
      await page.click("#step");
      await steps(page, ++n);
    }
  },
  async coding(page) {
    await reset(page, "1");
    await page.fill("#action-code", "squares = [n * n for n in range(10)]\nprint('squares:', squares)\nsum(squares)\n");
    await page.click("#step");
    await steps(page, 2);
    // The second step is caught while it runs: its output streams into the live view.
    await page.fill(
      "#action-code",
      "import time\nfor epoch in range(1, 4):\n    print(f'epoch {epoch}: loss {1 / epoch:.3f}', flush=True)\n    time.sleep(0.4)\ntime.sleep(5)\n",
    );
    await page.click("#step");
    await page.waitForFunction(() => (document.getElementById("live")?.textContent ?? "").includes("epoch 3"), undefined, {
      timeout: 30_000,
    });
  },
  async workspace(page) {
    // A tool environment: the tools panel calls write_file, then run_python (seed 2 poses fizzbuzz).
    await reset(page, "2");
    await page.selectOption("#tool-select", "write_file");
    await page.fill("#tool-arg-path", "fizzbuzz.py");
    await page.fill("#tool-arg-content", "def fizzbuzz(n):\n    return 'Fizz' * (n % 3 == 0) + 'Buzz' * (n % 5 == 0) or str(n)\n");
    await page.click("#call-tool");
    await steps(page, 2);
    await page.selectOption("#tool-select", "run_python");
    await page.fill("#tool-arg-code", "from fizzbuzz import fizzbuzz\nprint([fizzbuzz(n) for n in range(1, 16)])\n");
    await page.click("#call-tool");
    await steps(page, 3);
  },
};

await buildWeb();
const browser = await launchChromium({ width: 1280, height: 800 });
try {
  for (const [name, play] of Object.entries(episodes)) {
    const load = bundledEnvironments[name];
    if (load === undefined) throw new Error(`no bundled environment ${name}`);
    await using server = await serve(await load(), { port: 0 });
    const page = await browser.context.newPage();
    await page.goto(`${server.url}/web/`);
    await page.waitForSelector("body[data-ready]");
    await play(page);
    const file = join(docs, `web-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    process.stdout.write(`wrote ${file}\n`);
    await page.close();
  }
} finally {
  await browser.close();
}
