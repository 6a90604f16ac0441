import { rewardChart } from "./chart.js";
import { ConnectBackend } from "./connect-backend.js";
import { AuthRequired, CallError, type Credentials, type EnvConnection, type PartialView, type StepView } from "./connection.js";
import { h, pretty } from "./dom.js";
import { type GeneratedForm, generateForm, type JsonRecord } from "./form.js";
import { OpenEnvBackend } from "./openenv-backend.js";
import { type Renderer, registerRenderer, rendererFor } from "./renderers.js";
import { ToolsPanel } from "./tools-panel.js";

/** The page's API for environment authors' scripts (`/web/renderers.js`). */
declare global {
  interface Window {
    openenvWeb: { registerRenderer: (typeName: string, render: Renderer) => void };
  }
}
window.openenvWeb = { registerRenderer };

const TOKEN_KEY = "openenv-web-token";
const HISTORY_LIMIT = 500;

/** The token lives in this tab's sessionStorage (or memory), never in the URL. */
const credentials: Credentials & { set(token: string | undefined): void } = (() => {
  let memory: string | undefined;
  return {
    token() {
      try {
        return sessionStorage.getItem(TOKEN_KEY) ?? memory;
      } catch {
        return memory;
      }
    },
    set(token) {
      memory = token;
      try {
        if (token === undefined) sessionStorage.removeItem(TOKEN_KEY);
        else sessionStorage.setItem(TOKEN_KEY, token);
      } catch {
        // storage disabled: memory only
      }
    },
  };
})();

interface HistoryEntry {
  readonly n: number;
  readonly kind: "reset" | "step";
  readonly action: JsonRecord | undefined;
  readonly view: StepView;
  readonly output: string;
  readonly ms: number;
}

/** The server the page talks to: its own origin, or `?server=` (never a token). */
function serverUrl(): string {
  const param = new URLSearchParams(location.search).get("server");
  return (param ?? location.origin).replace(/\/+$/, "");
}

async function connect(baseUrl: string): Promise<EnvConnection> {
  // Both at once: the Step probe does not need Describe's answer.
  const [rpc, stepStream] = await Promise.all([
    ConnectBackend.open(baseUrl, credentials),
    ConnectBackend.stepStreamAvailable(baseUrl, credentials),
  ]);
  if (rpc !== undefined) {
    if (stepStream) return rpc;
    // The server does not serve Step to browsers: its descriptors still drive the forms, /ws carries the session.
    const ws = await OpenEnvBackend.open(baseUrl, credentials, rpc.description);
    if (ws !== undefined) return ws;
  }
  const openenv = await OpenEnvBackend.open(baseUrl, credentials);
  if (openenv === undefined)
    throw new CallError(`${baseUrl} speaks neither Connect (Describe) nor OpenEnv's protocol (/schema)`, "unavailable");
  return openenv;
}

function section(id: string, title: string, ...children: (Node | null)[]): HTMLElement {
  return h("section", { id, "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title` }, title), ...children);
}

class App {
  private conn: EnvConnection | undefined;
  private actionForm: GeneratedForm | undefined;
  private resetForm: GeneratedForm | undefined;
  private history: HistoryEntry[] = [];
  private rewards: (number | null)[] = [];
  private counter = 0;
  private busy = false;

  private readonly status = h("p", { id: "status", role: "status", "aria-live": "polite" }, "Connecting…");
  private readonly errorBox = h("div", { id: "error", role: "alert", hidden: true });
  private readonly actionJson = h("textarea", {
    id: "action-json",
    class: "mono",
    rows: 10,
    spellcheck: false,
    "aria-describedby": "action-json-error",
  });
  private readonly actionJsonError = h("p", { id: "action-json-error", class: "field-error", hidden: true });
  private readonly formSlot = h("div", { id: "action-form" });
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
  private readonly historyBody = h("tbody", {});
  private readonly historyCount = h("span", { id: "history-count" }, "0 entries");
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
  private readonly tokenPanel = h("form", { id: "token-form", hidden: true, novalidate: true });

  constructor(private readonly baseUrl: string) {}

  mount(root: HTMLElement): void {
    const forget = h(
      "button",
      { type: "button", class: "link", id: "forget-token", hidden: credentials.token() === undefined, onclick: () => this.forgetToken() },
      "Forget token",
    );
    const tokenInput = h("input", { id: "token", type: "password", autocomplete: "off", required: true, spellcheck: false });
    this.tokenPanel.append(
      h(
        "p",
        {},
        "This server wants a token. It is kept for this tab only (session storage) and sent as an Authorization header, never in the URL.",
      ),
      h("label", { for: "token" }, "Token"),
      tokenInput,
      h("button", { type: "submit", class: "primary" }, "Use token"),
    );
    this.tokenPanel.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (tokenInput.value === "") return;
      credentials.set(tokenInput.value);
      tokenInput.value = "";
      this.tokenPanel.hidden = true;
      forget.hidden = false;
      void this.start();
    });

    const actionForm = h("form", { id: "action", novalidate: true, "aria-labelledby": "action-title" });
    actionForm.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.step();
    });
    actionForm.addEventListener("keydown", (ev) => {
      // Ctrl/Cmd+Enter steps from anywhere in the action, text areas included.
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        void this.step();
      }
    });
    this.actionJson.addEventListener("input", () => this.jsonEdited());
    actionForm.append(
      h(
        "div",
        { class: "split" },
        h("div", { class: "pane" }, h("h3", {}, "Form"), this.formSlot),
        h("div", { class: "pane" }, h("h3", {}, h("label", { for: "action-json" }, "JSON")), this.actionJson, this.actionJsonError),
      ),
      h("div", { class: "actions" }, this.buttons.step, h("span", { class: "muted kbd-hint" }, "Ctrl+Enter")),
    );

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

    const history = section(
      "history",
      "History",
      h("p", { class: "muted" }, this.historyCount),
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
              h("th", { scope: "col" }, "#"),
              h("th", { scope: "col" }, "Action"),
              h("th", { scope: "col" }, "Reward"),
              h("th", { scope: "col" }, "End"),
              h("th", { scope: "col" }, "Observation"),
              h("th", { scope: "col" }, "Metadata"),
              h("th", { scope: "col" }, "Components"),
            ),
          ),
          this.historyBody,
        ),
      ),
    );

    root.replaceChildren(
      h(
        "header",
        {},
        h("div", { class: "brand" }, this.title, this.subtitle),
        h("div", { class: "conn" }, this.transport, forget, this.status),
      ),
      this.tokenPanel,
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
          h("section", { id: "action-section", "aria-labelledby": "action-title" }, h("h2", { id: "action-title" }, "Action"), actionForm),
        ),
        h(
          "div",
          { class: "col right" },
          section("current", "Observation", this.stepInfo, this.live, this.observation),
          section("rewards", "Reward", this.chart),
          section("state-section", "State", this.stateView),
        ),
      ),
      history,
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
        this.tokenPanel.hidden = false;
        (this.tokenPanel.querySelector("input") as HTMLInputElement).focus();
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
    this.actionForm = generateForm(d.actionFields, "action", (v) => this.formEdited(v));
    this.formSlot.replaceChildren(this.actionForm.element);
    this.actionJson.value = pretty(this.actionForm.value());
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

  private forgetToken(): void {
    credentials.set(undefined);
    location.reload();
  }

  private formEdited(value: JsonRecord): void {
    this.actionJson.value = pretty(value);
    this.actionJsonError.hidden = true;
    this.actionJson.removeAttribute("aria-invalid");
  }

  private jsonEdited(): void {
    try {
      const v: unknown = JSON.parse(this.actionJson.value);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SyntaxError("the action must be a JSON object");
      this.actionForm?.setValue(v as JsonRecord);
      this.actionJsonError.hidden = true;
      this.actionJson.removeAttribute("aria-invalid");
    } catch (err) {
      this.actionJsonError.hidden = false;
      this.actionJsonError.textContent = err instanceof Error ? err.message : String(err);
      this.actionJson.setAttribute("aria-invalid", "true");
    }
  }

  private showError(err: unknown): void {
    const e = err instanceof CallError ? err : new CallError(err instanceof Error ? err.message : String(err), "unknown");
    this.errorBox.hidden = false;
    this.errorBox.replaceChildren(h("strong", {}, e.code.replace(/_/g, " ")), ": ", e.message);
  }

  private clearError(): void {
    this.errorBox.hidden = true;
    this.errorBox.replaceChildren();
    this.actionForm?.clearErrors();
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
        this.tokenPanel.hidden = false;
        this.status.textContent = "Token required";
      }
      if (err instanceof CallError && err.fields.length > 0 && this.actionForm !== undefined) {
        const rest = this.actionForm.showErrors(err.fields);
        this.showError(
          rest.length > 0 ? new CallError(err.message, err.code) : new CallError("the action has invalid fields (see the form)", err.code),
        );
        (this.actionForm.element.querySelector("[aria-invalid=true]") as HTMLElement | null)?.focus();
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
    if (this.conn === undefined || this.actionForm === undefined || this.buttons.step.disabled) return undefined;
    if (action !== undefined) {
      this.actionForm.setValue(action);
      this.formEdited(action);
    }
    const value = this.actionForm.value();
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
    const typeName = this.conn?.description.observationType ?? "";
    const render = rendererFor(typeName);
    let drawn: Node | string | undefined;
    try {
      drawn = render?.(view.observation, { typeName, done: view.done, act: (a) => void this.step(a) });
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

  private record(kind: "reset" | "step", action: JsonRecord | undefined, view: StepView, output: string, ms: number): void {
    if (kind === "step") this.rewards.push(view.reward);
    const entry: HistoryEntry = { n: ++this.counter, kind, action, view, output, ms };
    this.history.push(entry);
    if (this.history.length > HISTORY_LIMIT) this.history.shift();

    this.renderObservation(view, this.observation);
    const badges = [
      h("span", { class: "badge" }, kind === "reset" ? "reset" : `step ${view.stepCount ?? ""}`),
      h("span", { class: "badge", id: "current-reward" }, `reward ${view.reward === null ? "—" : fmtReward(view.reward)}`),
      view.terminated ? h("span", { class: "badge good" }, "terminated") : null,
      view.truncated ? h("span", { class: "badge warn" }, "truncated") : null,
      !view.done ? h("span", { class: "badge" }, "episode in progress") : null,
      view.episodeId ? h("span", { class: "badge subtle", title: "episode id" }, view.episodeId) : null,
      h("span", { class: "badge subtle" }, `${ms.toFixed(0)} ms`),
    ];
    this.stepInfo.replaceChildren(...badges.filter((b) => b !== null));
    this.buttons.step.disabled = false;
    this.buttons.call.disabled = false;
    this.chart.replaceChildren(rewardChart(this.rewards));

    const row = h(
      "tr",
      { class: `${kind}${view.done ? " done" : ""}` },
      h("td", {}, String(entry.n)),
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
    this.historyBody.prepend(row);
    while (this.historyBody.rows.length > HISTORY_LIMIT) this.historyBody.deleteRow(-1);
    this.historyCount.textContent = `${this.history.length} ${this.history.length === 1 ? "entry" : "entries"}`;
  }

  private observationCell(view: StepView, output: string): HTMLElement {
    const details = h("details", {}, h("summary", {}, summarize(view.observation)));
    // Drawn when opened: a long history of boards costs nothing until looked at.
    details.addEventListener(
      "toggle",
      () => {
        const body = h("div", {});
        this.renderObservation(view, body);
        if (output !== "") details.append(h("pre", { class: "live" }, output));
        details.append(body);
      },
      { once: true },
    );
    return details;
  }
}

function fmtReward(r: number): string {
  return Number.isInteger(r) ? r.toFixed(1) : r.toFixed(3).replace(/0+$/, "");
}

/** A one-line summary of an observation: its first few short fields. */
function summarize(o: JsonRecord): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(o)) {
    if (parts.length >= 3) break;
    if (typeof v === "string" && v.length > 0 && v.length <= 40 && !v.includes("\n")) parts.push(`${k}: ${v}`);
    else if (typeof v === "number") parts.push(`${k}: ${Number.isInteger(v) ? v : Number(v.toPrecision(4))}`);
    else if (typeof v === "boolean") parts.push(`${k}: ${v}`);
  }
  return parts.length > 0 ? parts.join(", ") : "observation";
}

const root = document.getElementById("app");
if (root !== null) {
  const app = new App(serverUrl());
  app.mount(root);
  // Scripts that register renderers (`renderers.js`) run before DOMContentLoaded; so does this one (defer).
  if (document.readyState === "complete") void app.start();
  else document.addEventListener("DOMContentLoaded", () => void app.start(), { once: true });
}
