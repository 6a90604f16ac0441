// Debian's Chromium driven by playwright-core (no browser download), for the /web
// browser tests and `npm run screenshots`.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium } from "playwright-core";

/** Where Debian installs Chromium (`apt-get install chromium`); `CHROMIUM` overrides it. */
export const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Whether the browser is installed. */
export function chromiumAvailable(): boolean {
  return existsSync(chromiumPath);
}

/** A headless Chromium with a fresh profile of its own, removed on close. */
export interface Browser extends AsyncDisposable {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** Launches headless Chromium: no sandbox (root in CI), no GPU, no QUIC, nothing in the background that reaches the network. */
export async function launchChromium(viewport = { width: 1280, height: 800 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "openenv-web-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    viewport,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const close = async (): Promise<void> => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close, [Symbol.asyncDispose]: close };
}
