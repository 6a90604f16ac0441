import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Browser, BrowserContext, BrowserContextOptions } from "playwright-core";

/** The playwright-core module, loaded on first use (it is an optional dependency). */
type PlaywrightModule = typeof import("playwright-core");

/** The playwright-core release this package is tested with. */
export const playwrightVersion = "1.65.2";

/** How the shared Chromium is found and started; every field has a default. */
export interface ChromiumOptions {
  /**
   * The Chromium (or Chrome) binary. Default `OPENENV_BROWSER_EXECUTABLE`, then
   * the first of the usual install locations that exists (Debian's
   * `/usr/lib/chromium/chromium`, `/usr/bin/chromium`, ...).
   */
  readonly executablePath?: string;
  /** Extra command-line switches for Chromium. */
  readonly args?: readonly string[];
  /** Chromium's own sandbox. Default false (as Playwright's; Chromium refuses it as root). */
  readonly sandbox?: boolean;
  /** How long starting Chromium may take, ms. Default 30000. */
  readonly launchTimeoutMs?: number;
  /**
   * Close Chromium this long after its last session ended, ms; a new session
   * within that time reuses it. Default 5000; 0 closes at once.
   */
  readonly idleCloseMs?: number;
  /** V8 heap limit of each renderer (each session's pages), MiB: a page past it crashes instead of growing. Default 512. */
  readonly rendererHeapLimitMb?: number;
}

/** Flags every launch gets: no network chatter, no first-run UI, nothing that needs a GPU. */
const baseArgs = [
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Where Chromium usually is, in order. */
const candidates = [
  "/usr/lib/chromium/chromium",
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
];

/** The Chromium binary to start, or a FAILED_PRECONDITION error saying where it looked. */
export function findChromium(explicit: string | undefined): string {
  const chosen = explicit ?? process.env.OPENENV_BROWSER_EXECUTABLE;
  const isExecutable = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (chosen !== undefined && chosen !== "") {
    if (isExecutable(chosen)) return chosen;
    throw new ConnectError(
      `the browser environment cannot start Chromium: ${chosen} is not an executable file (set by ${explicit !== undefined ? "executablePath" : "OPENENV_BROWSER_EXECUTABLE"})`,
      Code.FailedPrecondition,
    );
  }
  const found = candidates.find(isExecutable);
  if (found !== undefined) return found;
  throw new ConnectError(
    `the browser environment needs Chromium and found none (looked for ${candidates.join(", ")}): install it (Debian/Ubuntu: apt-get install chromium) or set OPENENV_BROWSER_EXECUTABLE to a Chromium or Chrome binary`,
    Code.FailedPrecondition,
  );
}

let playwright: Promise<PlaywrightModule> | undefined;

/** Imports playwright-core once, or fails with a FAILED_PRECONDITION error that says how to install it. */
export function loadPlaywright(): Promise<PlaywrightModule> {
  playwright ??= import("playwright-core").catch((err: unknown) => {
    playwright = undefined; // installed later, it is found on the next try
    throw new ConnectError(
      `the browser environment needs the optional dependency playwright-core (npm install playwright-core@${playwrightVersion}): ${(err as Error).message}`,
      Code.FailedPrecondition,
    );
  });
  return playwright;
}

/** A running Chromium with its watchdog. */
interface Launched {
  readonly browser: Browser;
  /** Chromium's pid, which is also its process group (Playwright starts it detached); undefined when unknown. */
  readonly pid: number | undefined;
  /** Our temporary directory (Chromium's config and crash database, Playwright's artifacts). */
  readonly root: string;
  readonly watchdog: ChildProcess | undefined;
  /** We are closing it (so its exit is no crash). */
  closing: boolean;
}

/**
 * One Chromium process shared by every session of a server, each session in a
 * browser context of its own (separate cookies, storage and renderer
 * processes). Chromium starts on the first {@link newContext}, starts again
 * after it died, and closes {@link ChromiumOptions.idleCloseMs} after the last
 * context closed, or at {@link close}.
 *
 * If the server process dies, even by SIGKILL, a watchdog process (a shell
 * blocked reading a pipe from the server) sees the pipe close, kills
 * Chromium's process group and removes its temporary directories.
 */
export class SharedBrowser {
  /** Times Chromium was started. */
  launches = 0;
  /** Times Chromium exited without being asked to (killed, crashed). */
  crashes = 0;
  private current: Promise<Launched> | undefined;
  private contexts = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: ChromiumOptions = {}) {}

  /** Chromium's pid while it runs (for tests and metrics). */
  async pid(): Promise<number | undefined> {
    const launched = await this.current?.catch(() => undefined);
    return launched?.browser.isConnected() ? launched.pid : undefined;
  }

  /** Contexts open now. */
  get openContexts(): number {
    return this.contexts;
  }

  /** A new isolated context, starting Chromium first if needed. */
  async newContext(options: BrowserContextOptions): Promise<BrowserContext> {
    if (this.closed) throw new ConnectError("the browser is closed: the server is shutting down", Code.Unavailable);
    clearTimeout(this.idleTimer);
    this.contexts++;
    try {
      const { browser } = await this.running();
      const context = await browser.newContext(options);
      context.once("close", () => this.release());
      return context;
    } catch (err) {
      this.release();
      throw err;
    }
  }

  /** Closes Chromium (and every context in it) and stops the watchdog. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.idleTimer);
    await this.shutdown();
  }

  private release(): void {
    this.contexts--;
    if (this.contexts > 0 || this.closed) return;
    const idle = this.options.idleCloseMs ?? 5_000;
    if (idle <= 0) {
      void this.shutdown();
      return;
    }
    this.idleTimer = setTimeout(() => {
      if (this.contexts === 0) void this.shutdown();
    }, idle);
    this.idleTimer.unref();
  }

  private async shutdown(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    const launched = await current?.catch(() => undefined);
    if (launched === undefined) return;
    launched.closing = true;
    await launched.browser.close().catch(() => {});
    cleanUp(launched);
  }

  private running(): Promise<Launched> {
    const current = this.current;
    if (current !== undefined) {
      return current.then((l) => (l.browser.isConnected() ? l : this.relaunch(current)));
    }
    return this.relaunch(undefined);
  }

  private relaunch(stale: Promise<Launched> | undefined): Promise<Launched> {
    if (this.current !== stale) return this.running(); // another caller started it already
    const next = this.launch();
    this.current = next;
    next.catch(() => {
      if (this.current === next) this.current = undefined;
    });
    return next;
  }

  private async launch(): Promise<Launched> {
    const { chromium } = await loadPlaywright();
    const executablePath = findChromium(this.options.executablePath);
    const root = mkdtempSync(join(tmpdir(), "openenv-browser-"));
    const marker = `--openenv-browser=${root}`;
    let browser: Browser;
    try {
      browser = await chromium.launch({
        executablePath,
        headless: true,
        chromiumSandbox: this.options.sandbox ?? false,
        timeout: this.options.launchTimeoutMs ?? 30_000,
        // The server decides what signals mean; Playwright's handlers would exit the process.
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        artifactsDir: join(root, "artifacts"),
        env: chromiumEnv(root),
        args: [
          ...baseArgs,
          `--js-flags=--max-old-space-size=${this.options.rendererHeapLimitMb ?? 512}`,
          ...(this.options.args ?? []),
          marker,
        ],
      });
    } catch (err) {
      rmSync(root, { recursive: true, force: true });
      throw new ConnectError(`starting Chromium (${executablePath}) failed: ${(err as Error).message.split("\n")[0]}`, Code.Unavailable);
    }
    this.launches++;
    const pid = findChild(marker);
    const watchdog = pid === undefined ? undefined : startWatchdog(pid, root, profileDir(pid));
    const launched: Launched = { browser, pid, root, watchdog, closing: false };
    browser.once("disconnected", () => {
      if (!launched.closing) this.crashes++;
      cleanUp(launched);
    });
    return launched;
  }
}

/** Only what Chromium needs of the server's environment (no tokens or keys), with its config and cache in `root`. */
function chromiumEnv(root: string): Record<string, string> {
  const env: Record<string, string> = { XDG_CONFIG_HOME: join(root, "config"), XDG_CACHE_HOME: join(root, "cache") };
  for (const name of ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "FONTCONFIG_PATH", "FONTCONFIG_FILE", "TMPDIR"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Kills whatever is left of Chromium's process group, stops the watchdog and removes our directory. */
function cleanUp(launched: Launched): void {
  if (launched.pid !== undefined) {
    try {
      process.kill(-launched.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  const watchdog = launched.watchdog;
  if (watchdog !== undefined && watchdog.exitCode === null) watchdog.stdin?.end("stop\n");
  rmSync(launched.root, { recursive: true, force: true });
}

/** The pid of our child process whose command line has `marker` (Chromium), found in /proc; undefined elsewhere. */
function findChild(marker: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").includes(marker)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/** Playwright's temporary profile directory of a Chromium process, read from its command line. */
function profileDir(pid: number): string {
  try {
    const arg = readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .find((a) => a.startsWith("--user-data-dir="));
    const dir = arg?.slice("--user-data-dir=".length) ?? "";
    // Only ever remove a directory Playwright made for this run.
    return dir.startsWith(join(tmpdir(), "playwright_")) ? dir : "";
  } catch {
    return "";
  }
}

/**
 * The watchdog: `sh` blocked on `read` from a pipe whose other end only the
 * server holds. "stop" ends it quietly; end-of-file (the server died) makes it
 * kill Chromium's process group and any process whose command line names our
 * directory (Chromium's crash handlers leave the group), then remove the
 * directories. It runs in a session of its own, so signals aimed at the
 * server's process group do not reach it.
 */
const watchdogScript = `
IFS= read -r line
[ "$line" = stop ] && exit 0
kill -KILL -"$1" 2>/dev/null
for p in /proc/[0-9]*; do
  pid=\${p#/proc/}
  [ "$pid" = "$$" ] && continue
  case "$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null)" in *"$2"*) kill -KILL "$pid" 2>/dev/null;; esac
done
rm -rf "$2"
[ -n "$3" ] && rm -rf "$3"
exit 0
`;

function startWatchdog(pid: number, root: string, profile: string): ChildProcess | undefined {
  try {
    const child = spawn("/bin/sh", ["-c", watchdogScript, "openenv-browser-watchdog", String(pid), root, profile], {
      stdio: ["pipe", "ignore", "ignore"],
      detached: true,
    });
    child.on("error", () => {});
    child.stdin?.on("error", () => {});
    child.unref();
    (child.stdin as unknown as Socket | null)?.unref();
    return child;
  } catch {
    return undefined;
  }
}
