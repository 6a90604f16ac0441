// The page: lays out the sections and runs reset, step and state against the connection the bootstrap found.
import { ActionEditor } from "./action-editor.js";
import { connect, serverUrl } from "./bootstrap.js";
import { rewardChart } from "./chart.js";
import { AuthRequired, CallError, type EnvConnection, type PartialView, type StepView } from "./connection.js";
import { h, pretty, section } from "./dom.js";
import { type GeneratedForm, generateForm, type JsonRecord } from "./form.js";
import { HistoryTable } from "./history-table.js";
import { renderObservation, stepBadges } from "./observation-view.js";
import { type Renderer, registerRenderer, rendererFor } from "./renderers.js";
import { TokenPanel } from "./token-panel.js";
import { credentials } from "./token-store.js";
import { ToolsPanel } from "./tools-panel.js";

/** The page's API for environment authors' scripts (`/web/renderers.js`). */
declare global {
  interface Window {
    openenvWeb: { registerRenderer: (typeName: string, render: Renderer) => void };
  }
}
window.openenvWeb = { registerRenderer };

class App {
  private conn: EnvConnection | undefined;
  private resetForm: GeneratedForm | undefined;
  private rewards: (number | null)[] = [];
  private busy = false;

  private readonly status = h("p", { id: "status", role: "status", "aria-live": "polite" }, "Connecting…");
  private readonly errorBox = h("div", { id: "error", role: "alert", hidden: true });
  private readonly seed = h("input", { id: "seed", type: "number", min: 0, step: 1, inputmode: "numeric", placeholder: "random" });
  private readonly episodeId = h("input", {
    id: "episode-id",
    type: "text",
    maxlength: 255,
    autocomplete: "off",
    placeholder: "generated",
  });
  private readonly resetSlot = h("div", { id: "reset-options" });
  private readonly resetJson = h("textarea", { id: "reset-json", class: "mono", rows: 3, spellcheck: false, placeholder: "{}" });
  private readonly observation = h(
    "div",
    { id: "observation", "aria-live": "polite" },
    h("p", { class: "muted" }, "Reset to start an episode."),
  );
  private readonly stepInfo = h("div", { id: "step-info" });
  private readonly live = h("pre", { id: "live", class: "live", hidden: true, "aria-live": "polite", "aria-label": "Live output" });
  private readonly chart = h("div", { id: "chart" });
  private readonly stateView = h("pre", { id: "state", class: "mono json" }, "Press State to read the session's state.");
  private readonly history = new HistoryTable((view, into) => this.renderObservation(view, into));
  private readonly buttons = {
    reset: h("button", { type: "button", id: "reset", class: "primary", onclick: () => void this.reset() }, "Reset"),
    step: h("button", { type: "submit", id: "step", class: "primary", disabled: true }, "Step"),
    state: h("button", { type: "button", id: "get-state", disabled: true, onclick: () => void this.state() }, "State"),
    // The tools panel's Call: a tool call is a step, so it is enabled and disabled with Step.
    call: h("button", { type: "submit", id: "call-tool", class: "primary", disabled: true }, "Call"),
  };
  private readonly toolsSlot = h("div", { id: "tools-slot" });
  private readonly title = h("h1", { id: "env-name" }, "OpenEnv");
  private readonly subtitle = h("p", { id: "env-description", class: "muted" });
  private readonly transport = h("span", { id: "transport", class: "badge" });
  private readonly tokenPanel = new TokenPanel(() => void this.start());
  private readonly action = new ActionEditor(this.buttons.step, () => void this.step());

  constructor(private readonly baseUrl: string) {}

  mount(root: HTMLElement): void {
    const episode = section(
      "episode",
      "Episode",
      h(
        "div",
        { class: "row" },
        h("div", { class: "field" }, h("label", { for: "seed" }, "Seed"), this.seed),
        h("div", { class: "field" }, h("label", { for: "episode-id" }, "Episode id"), this.episodeId),
      ),
      h(
        "details",
        { id: "reset-details" },
        h("summary", {}, "Reset options"),
        this.resetSlot,
        h("label", { for: "reset-json" }, "Options as JSON"),
        this.resetJson,
      ),
      h("div", { class: "actions" }, this.buttons.reset, this.buttons.state),
    );

    root.replaceChildren(
      h(
        "header",
        {},
        h("div", { class: "brand" }, this.title, this.subtitle),
        h("div", { class: "conn" }, this.transport, this.tokenPanel.forget, this.status),
      ),
      this.tokenPanel.element,
      this.errorBox,
      h(
        "main",
        {},
        h(
          "div",
          { class: "col left" },
          episode,
          // A tool environment's tools panel comes first: it is how such an environment is played.
          this.toolsSlot,
          h(
            "section",
            { id: "action-section", "aria-labelledby": "action-title" },
            h("h2", { id: "action-title" }, "Action"),
            this.action.element,
          ),
        ),
        h(
          "div",
          { class: "col right" },
          section("current", "Observation", this.stepInfo, this.live, this.observation),
          section("rewards", "Reward", this.chart),
          section("state-section", "State", this.stateView),
        ),
      ),
      this.history.element,
    );
    this.chart.append(rewardChart([]));
    addEventListener("pagehide", () => this.conn?.close());
  }

  async start(): Promise<void> {
    this.status.textContent = "Connecting…";
    try {
      this.conn?.close();
      this.conn = await connect(this.baseUrl);
    } catch (err) {
      if (err instanceof AuthRequired) {
        this.status.textContent = "Token required";
        this.tokenPanel.show(true);
        if (credentials.token() !== undefined) this.showError(new CallError("the token was refused", "unauthenticated"));
        return;
      }
      this.status.textContent = "Not connected";
      this.showError(err);
      return;
    }
    const d = this.conn.description;
    document.title = `${d.name} · OpenEnv`;
    this.title.textContent = d.name;
    this.subtitle.textContent = [d.description, d.version !== "" ? `v${d.version}` : ""].filter((s) => s !== "").join(" · ");
    this.transport.textContent = this.conn.transport;
    this.status.textContent = "Connected";
    this.action.load(d.actionFields);
    if (d.resetFields !== undefined && d.resetFields.length > 0) {
      this.resetForm = generateForm(d.resetFields, "reset", (v) => {
        this.resetJson.value = Object.keys(v).length > 0 ? pretty(v) : "";
      });
      this.resetSlot.replaceChildren(this.resetForm.element);
    }
    this.resetJson.addEventListener("input", () => {
      try {
        const v: unknown = this.resetJson.value.trim() === "" ? {} : JSON.parse(this.resetJson.value);
        if (typeof v === "object" && v !== null && !Array.isArray(v)) this.resetForm?.setValue(v as JsonRecord);
      } catch {
        // keep typing
      }
    });
    this.toolsSlot.replaceChildren();
    const tools = this.conn.tools;
    if (tools !== undefined) {
      const panel = new ToolsPanel(tools, (action, onPartial) => this.step(action, onPartial), this.buttons.call);
      this.toolsSlot.replaceChildren(panel.element);
      try {
        await panel.load();
      } catch (err) {
        this.showError(err);
      }
    }
    this.buttons.reset.disabled = false;
    document.body.dataset.ready = "true";
    performance.mark("openenv-web-ready");
  }

  private showError(err: unknown): void {
    const e = err instanceof CallError ? err : new CallError(err instanceof Error ? err.message : String(err), "unknown");
    this.errorBox.hidden = false;
    this.errorBox.replaceChildren(h("strong", {}, e.code.replace(/_/g, " ")), ": ", e.message);
  }

  private clearError(): void {
    this.errorBox.hidden = true;
    this.errorBox.replaceChildren();
    this.action.form?.clearErrors();
  }

  private async run<T>(what: () => Promise<T>): Promise<T | undefined> {
    if (this.busy || this.conn === undefined) return undefined;
    this.busy = true;
    this.clearError();
    const buttons = Object.values(this.buttons);
    const was = buttons.map((b) => b.disabled);
    for (const b of buttons) b.disabled = true;
    document.body.setAttribute("aria-busy", "true");
    try {
      return await what();
    } catch (err) {
      if (err instanceof AuthRequired) {
        this.tokenPanel.show(false);
        this.status.textContent = "Token required";
      }
      const form = this.action.form;
      if (err instanceof CallError && err.fields.length > 0 && form !== undefined) {
        const rest = form.showErrors(err.fields);
        this.showError(
          rest.length > 0 ? new CallError(err.message, err.code) : new CallError("the action has invalid fields (see the form)", err.code),
        );
        (form.element.querySelector("[aria-invalid=true]") as HTMLElement | null)?.focus();
      } else {
        this.showError(err);
      }
      return undefined;
    } finally {
      buttons.forEach((b, i) => {
        b.disabled = was[i] as boolean;
      });
      this.busy = false;
      document.body.removeAttribute("aria-busy");
    }
  }

  private async reset(): Promise<void> {
    const started = performance.now();
    let options: JsonRecord | undefined;
    if (this.resetJson.value.trim() !== "") {
      try {
        options = JSON.parse(this.resetJson.value) as JsonRecord;
      } catch {
        this.showError(new CallError("reset options are not valid JSON", "invalid_argument"));
        return;
      }
    }
    const seed = this.seed.value.trim() === "" ? undefined : this.seed.value.trim();
    const episodeId = this.episodeId.value.trim() === "" ? undefined : this.episodeId.value.trim();
    const view = await this.run(() => (this.conn as EnvConnection).reset({ seed, episodeId, options }));
    if (view === undefined) return;
    this.rewards = [];
    this.live.hidden = true;
    this.live.replaceChildren();
    this.record("reset", undefined, view, "", performance.now() - started);
    this.buttons.state.disabled = false;
  }

  /**
   * Steps with the form's action; `action` (from a renderer's button or the tools
   * panel) replaces it first. Returns what the step produced, undefined when it failed.
   */
  async step(action?: JsonRecord, onProgress?: (p: PartialView) => void): Promise<StepView | undefined> {
    const form = this.action.form;
    if (this.conn === undefined || form === undefined || this.buttons.step.disabled) return undefined;
    if (action !== undefined) this.action.setValue(action);
    const value = form.value();
    const started = performance.now();
    let output = "";
    this.live.replaceChildren();
    this.live.hidden = true;
    const partialType = this.conn.description.partialType;
    const onPartial = (p: PartialView): void => {
      onProgress?.(p);
      this.live.hidden = false;
      const render = rendererFor(partialType);
      const drawn = render?.(p.observation, { typeName: partialType, act: () => {}, done: false });
      const node = drawn ?? `${JSON.stringify(p.observation)}\n`;
      output += typeof node === "string" ? node : (node.textContent ?? "");
      this.live.append(node);
      this.live.scrollTop = this.live.scrollHeight;
    };
    const running = h("span", { class: "badge warn", id: "in-flight" }, "step running…");
    this.stepInfo.prepend(running);
    const view = await this.run(() => (this.conn as EnvConnection).step(structuredClone(value), onPartial));
    running.remove();
    if (view === undefined) return undefined;
    // The observation now shows the whole output; the streamed chunks stay in the history row.
    if (rendererFor(this.conn.description.observationType) !== undefined) this.live.hidden = true;
    this.record("step", structuredClone(value), view, output, performance.now() - started);
    return view;
  }

  private async state(): Promise<void> {
    const s = await this.run(() => (this.conn as EnvConnection).state());
    if (s === undefined) return;
    this.stateView.textContent = pretty(s);
  }

  private renderObservation(view: StepView, into: HTMLElement): void {
    renderObservation(view, into, this.conn?.description.observationType ?? "", (a) => void this.step(a));
  }

  private record(kind: "reset" | "step", action: JsonRecord | undefined, view: StepView, output: string, ms: number): void {
    if (kind === "step") this.rewards.push(view.reward);
    this.renderObservation(view, this.observation);
    this.stepInfo.replaceChildren(...stepBadges(kind, view, ms));
    this.buttons.step.disabled = false;
    this.buttons.call.disabled = false;
    this.chart.replaceChildren(rewardChart(this.rewards));
    this.history.add(kind, action, view, output);
  }
}

const root = document.getElementById("app");
if (root !== null) {
  const app = new App(serverUrl());
  app.mount(root);
  // Scripts that register renderers (`renderers.js`) run before DOMContentLoaded; so does this one (defer).
  if (document.readyState === "complete") void app.start();
  else document.addEventListener("DOMContentLoaded", () => void app.start(), { once: true });
}
