import type { BrowserAction } from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
import type { Rubric } from "../../server/rubrics/rubric.js";
import type { ChromiumOptions, SharedBrowser } from "./chromium.js";
import type { BrowserStepState } from "./rubric.js";

/** Options of {@link BrowserEnvironment}: Chromium's settings plus per-session limits; every field has a default. */
export interface BrowserOptions extends ChromiumOptions {
  /** The Chromium to use; default one per factory ({@link BrowserEnvironment.with}) or per process (the class). */
  readonly browser?: SharedBrowser;
  /** Pages (tabs) a session may have open; a page opened past it is closed at once. Default 4. */
  readonly maxPages?: number;
  /** JavaScript heap of a session's pages, MiB, checked after every action; past it the episode ends. Default 256. */
  readonly jsHeapLimitMb?: number;
  /** Time a navigation may take, ms. Default 10000. */
  readonly navigationTimeoutMs?: number;
  /** Deadline of each action, and separately of reading the page after it, ms (capped by the step's deadline). Default 10000. */
  readonly actionTimeoutMs?: number;
  /** Longest accessibility tree sent, characters; longer ones are cut. Default 100000. */
  readonly maxAxtreeChars?: number;
  /**
   * Origins (`https://example.com`) that goto may open and the pages may load
   * from, besides the task site. Default `OPENENV_BROWSER_ALLOWED_ORIGINS`
   * (origins separated by spaces or commas; a manifest's `variables` can set it),
   * else none: every other request is blocked.
   */
  readonly allowedOrigins?: readonly string[];
  /** The reward rubric; default {@link BrowserTaskRubric}. */
  readonly rubric?: Rubric<BrowserAction, BrowserStepState>;
}

export /** Origins from a list of URLs or origins; a malformed entry is a configuration error naming it. */
function parseOrigins(entries: readonly string[]): string[] {
  return entries
    .filter((e) => e.trim() !== "")
    .map((e) => {
      try {
        const origin = new URL(e.trim()).origin;
        if (origin === "null") throw new Error("no origin");
        return origin;
      } catch {
        throw new TypeError(`allowedOrigins: "${e}" is not an origin such as https://example.com`);
      }
    });
}
