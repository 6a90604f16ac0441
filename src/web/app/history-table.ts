import type { StepView } from "./connection.js";
import { h, section } from "./dom.js";
import type { JsonRecord } from "./form.js";
import { fmtReward, summarize } from "./observation-view.js";

/** Rows kept: a long session stays cheap to scroll and to hold. */
const HISTORY_LIMIT = 500;

/** The History section: one row per reset or step, newest first. */
export class HistoryTable {
  private readonly body = h("tbody", {});
  private readonly count = h("span", { id: "history-count" }, "0 entries");
  private counter = 0;
  private size = 0;
  readonly element = section(
    "history",
    "History",
    h("p", { class: "muted" }, this.count),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["#", "Action", "Reward", "End", "Observation", "Metadata", "Components"].map((title) => h("th", { scope: "col" }, title)),
          ),
        ),
        this.body,
      ),
    ),
  );

  /** `draw` renders an observation when its row is opened. */
  constructor(private readonly draw: (view: StepView, into: HTMLElement) => void) {}

  add(kind: "reset" | "step", action: JsonRecord | undefined, view: StepView, output: string): void {
    const n = ++this.counter;
    this.size = Math.min(this.size + 1, HISTORY_LIMIT);
    const row = h(
      "tr",
      { class: `${kind}${view.done ? " done" : ""}` },
      h("td", {}, String(n)),
      h("td", {}, kind === "reset" ? h("em", {}, "reset") : h("code", { class: "clip" }, JSON.stringify(action))),
      h("td", { class: "num" }, view.reward === null ? "—" : fmtReward(view.reward)),
      h("td", {}, view.terminated ? "terminated" : view.truncated ? "truncated" : ""),
      h("td", {}, this.observationCell(view, output)),
      h("td", {}, Object.keys(view.metadata).length > 0 ? h("code", { class: "clip" }, JSON.stringify(view.metadata)) : ""),
      h(
        "td",
        {},
        Object.entries(view.rewardComponents)
          .map(([k, v]) => `${k}: ${fmtReward(v)}`)
          .join(", "),
      ),
    );
    this.body.prepend(row);
    while (this.body.rows.length > HISTORY_LIMIT) this.body.deleteRow(-1);
    this.count.textContent = `${this.size} ${this.size === 1 ? "entry" : "entries"}`;
  }

  private observationCell(view: StepView, output: string): HTMLElement {
    const details = h("details", {}, h("summary", {}, summarize(view.observation)));
    // Drawn when opened: a long history of boards costs nothing until looked at.
    details.addEventListener(
      "toggle",
      () => {
        const body = h("div", {});
        this.draw(view, body);
        if (output !== "") details.append(h("pre", { class: "live" }, output));
        details.append(body);
      },
      { once: true },
    );
    return details;
  }
}
