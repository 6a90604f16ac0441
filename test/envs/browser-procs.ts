import { type ProcessInfo, processTable } from "../fixtures/process-table.js";

/** The Chromium a server process started: its child whose command line carries our marker. */
export function chromiumOf(serverPid: number): ProcessInfo | undefined {
  return processTable().find((p) => p.ppid === serverPid && p.cmdline.includes("--openenv-browser="));
}

/** Our temporary directory of a Chromium process (the value of its `--openenv-browser=` marker). */
export function rootOf(chromium: ProcessInfo): string {
  return /--openenv-browser=(\S+)/.exec(chromium.cmdline)?.[1] ?? "";
}

/** Playwright's profile directory of a Chromium process. */
export function profileOf(chromium: ProcessInfo): string {
  return /--user-data-dir=(\S+)/.exec(chromium.cmdline)?.[1] ?? "";
}

/** Processes left of a Chromium: its process group, and anything naming its directory (its crash handlers, the watchdog). */
export function leftovers(pgid: number, root: string): ProcessInfo[] {
  return processTable().filter((p) => p.pgid === pgid || (root !== "" && p.cmdline.includes(root)));
}
