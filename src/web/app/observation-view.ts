import type { StepView } from "./connection.js";
import { h, pretty } from "./dom.js";
import type { JsonRecord } from "./form.js";
import { rendererFor } from "./renderers.js";

/** Draws an observation with its type's renderer (raw JSON beside it), or as JSON when none is registered. */
export function renderObservation(view: StepView, into: HTMLElement, typeName: string, act: (action: JsonRecord) => void): void {
  const render = rendererFor(typeName);
  let drawn: Node | string | undefined;
  try {
    drawn = render?.(view.observation, { typeName, done: view.done, act });
  } catch (err) {
    drawn = h("p", { class: "field-error" }, `renderer failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const json = h(
    "details",
    { class: "raw" },
    h("summary", {}, "Observation JSON"),
    h("pre", { class: "mono json" }, pretty(view.observation)),
  );
  if (drawn === undefined) into.replaceChildren(h("pre", { class: "mono json" }, pretty(view.observation)));
  else into.replaceChildren(h("div", { class: "rendered" }, drawn), json);
}

/** The badges over the current observation: what produced it, its reward, how the episode stands, how long it took. */
export function stepBadges(kind: "reset" | "step", view: StepView, ms: number): HTMLElement[] {
  const badges = [
    h("span", { class: "badge" }, kind === "reset" ? "reset" : `step ${view.stepCount ?? ""}`),
    h("span", { class: "badge", id: "current-reward" }, `reward ${view.reward === null ? "—" : fmtReward(view.reward)}`),
    view.terminated ? h("span", { class: "badge good" }, "terminated") : null,
    view.truncated ? h("span", { class: "badge warn" }, "truncated") : null,
    !view.done ? h("span", { class: "badge" }, "episode in progress") : null,
    view.episodeId ? h("span", { class: "badge subtle", title: "episode id" }, view.episodeId) : null,
    h("span", { class: "badge subtle" }, `${ms.toFixed(0)} ms`),
  ];
  return badges.filter((b) => b !== null);
}

export function fmtReward(r: number): string {
  return Number.isInteger(r) ? r.toFixed(1) : r.toFixed(3).replace(/0+$/, "");
}

/** A one-line summary of an observation: its first few short fields. */
export function summarize(o: JsonRecord): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (parts.length >= 3) break;
    if (typeof v === "string" && v.length > 0 && v.length <= 40 && !v.includes("\n")) parts.push(`${k}: ${v}`);
    else if (typeof v === "number") parts.push(`${k}: ${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`);
    else if (typeof v === "boolean") parts.push(`${k}: ${v}`);
  }
  return parts.length > 0 ? parts.join(", ") : "observation";
}
