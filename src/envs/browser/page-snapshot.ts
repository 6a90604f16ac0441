import type { Page } from "playwright-core";
import { remaining, within } from "./deadline.js";

/** A page's accessibility tree (ids as observations give them) and title. */
export interface Snapshot {
  readonly axtree: string;
  readonly title: string;
  /** The main frame's ref prefix that was taken out of the ids ("" for a page's first document). */
  readonly prefix: string;
}

/**
 * Reads the page's accessibility snapshot and title before `deadline`. Ids lose
 * the main frame's prefix, so they depend only on the document, not on what the
 * page showed before.
 */
export async function readSnapshot(page: Page, deadline: number): Promise<Snapshot> {
  for (let attempt = 0; ; attempt++) {
    try {
      let [axtree, title] = await within(
        deadline,
        Promise.all([page.ariaSnapshot({ mode: "ai", timeout: remaining(deadline) }), page.title()]),
      );
      const prefix = /\[ref=(f\d+)?e\d+\]/.exec(axtree)?.[1] ?? "";
      if (prefix !== "") axtree = axtree.replaceAll(`[ref=${prefix}e`, "[ref=e");
      return { axtree, title, prefix };
    } catch (err) {
      // A navigation replaced the document while it was read: read the new one.
      if (attempt >= 3 || !/context was destroyed|navigat/i.test((err as Error).message)) throw err;
      await within(deadline, page.waitForLoadState("load", { timeout: remaining(deadline) })).catch(() => {});
    }
  }
}
