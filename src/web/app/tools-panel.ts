import type { PartialView, StepView } from "./connection.js";
import { h, pretty } from "./dom.js";
import { fieldsFromJsonSchema } from "./fields.js";
import { type GeneratedForm, generateForm, type JsonRecord } from "./form.js";
import { argumentErrors, drawToolResult, type ToolSupport, type ToolView, toolResult } from "./tools.js";

/** Steps the page's session with an action (the page's own Step, so the history and reward chart follow). */
export type StepWith = (action: JsonRecord, onPartial: (p: PartialView) => void) => Promise<StepView | undefined>;

function fmt(r: number | null): string {
  return r === null ? "—" : String(Number(r.toFixed(3)));
}

/**
 * The tools panel of a tool (MCP) environment: the tool list, a form generated
 * from the chosen tool's input schema (with its JSON beside it), and a Call
 * button. A call is a step of the page's session (a `call_tool` action), so it
 * lands in the history and the reward chart; the panel shows the tool's result
 * or error, the reward and the episode's end. Argument errors the server names
 * (`invalid_args`) are shown at their field.
 */
export class ToolsPanel {
  readonly element: HTMLElement;
  private tools: readonly ToolView[] = [];
  private form: GeneratedForm | undefined;
  private readonly select = h("select", { id: "tool-select", "aria-describedby": "tool-description" });
  private readonly description = h("p", { id: "tool-description", class: "muted tool-description" });
  private readonly formSlot = h("div", { id: "tool-form" });
  private readonly json = h("textarea", {
    id: "tool-args-json",
    class: "mono",
    rows: 4,
    spellcheck: false,
    "aria-describedby": "tool-args-json-error",
  });
  private readonly jsonError = h("p", { id: "tool-args-json-error", class: "field-error", hidden: true });
  private readonly progress = h("progress", { id: "tool-progress", max: 1, hidden: true });
  private readonly result = h("div", { id: "tool-result", "aria-live": "polite" });

  constructor(
    private readonly support: ToolSupport,
    private readonly stepWith: StepWith,
    /** The Call button: the page enables it with Step (after a reset, while no call runs). */
    readonly callButton: HTMLButtonElement,
  ) {
    const form = h("form", { id: "tool-call", novalidate: true, "aria-labelledby": "tools-title" });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.call();
    });
    this.select.addEventListener("change", () => this.choose(this.select.value));
    this.json.addEventListener("input", () => this.jsonEdited());
    form.append(
      h("div", { class: "field" }, h("label", { for: "tool-select" }, "Tool"), this.select),
      this.description,
      h(
        "div",
        { class: "split" },
        h("div", { class: "pane" }, h("h3", {}, "Arguments"), this.formSlot),
        h("div", { class: "pane" }, h("h3", {}, h("label", { for: "tool-args-json" }, "JSON")), this.json, this.jsonError),
      ),
      h("div", { class: "actions" }, callButton, this.progress),
    );
    this.element = h(
      "section",
      { id: "tools", "aria-labelledby": "tools-title" },
      h("h2", { id: "tools-title" }, "Tools"),
      form,
      h("h3", {}, "Result"),
      this.result,
    );
    this.result.append(h("p", { class: "muted" }, "Call a tool to see its result."));
  }

  /** Lists the tools (Describe's list, or MCP's `tools/list`); the first is chosen. */
  async load(): Promise<void> {
    this.tools = await this.support.list();
    this.select.replaceChildren(...this.tools.map((t) => h("option", { value: t.name }, t.title || t.name)));
    if (this.tools.length === 0) this.description.textContent = "This environment lists no tools.";
    else this.choose(this.tools[0]?.name ?? "");
  }

  private choose(name: string): void {
    const tool = this.tools.find((t) => t.name === name);
    if (tool === undefined) return;
    this.select.value = name;
    const limit = tool.timeoutS === undefined ? "" : ` · time limit ${tool.timeoutS} s`;
    this.description.textContent = `${tool.description}${limit}`;
    const fields = fieldsFromJsonSchema(tool.inputSchema);
    this.form = generateForm(fields, "tool-arg", (v) => {
      this.json.value = pretty(v);
      this.setJsonError(undefined);
    });
    if (fields.length === 0) this.form.element.replaceChildren(h("p", { class: "muted" }, "No arguments."));
    this.formSlot.replaceChildren(this.form.element);
    this.json.value = pretty(this.form.value());
    this.setJsonError(undefined);
  }

  private jsonEdited(): void {
    try {
      const v: unknown = JSON.parse(this.json.value);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SyntaxError("the arguments must be a JSON object");
      this.form?.setValue(v as JsonRecord);
      this.setJsonError(undefined);
    } catch (err) {
      this.setJsonError(err instanceof Error ? err.message : String(err));
    }
  }

  private setJsonError(message: string | undefined): void {
    this.jsonError.hidden = message === undefined;
    this.jsonError.textContent = message ?? "";
    if (message === undefined) this.json.removeAttribute("aria-invalid");
    else this.json.setAttribute("aria-invalid", "true");
  }

  private async call(): Promise<void> {
    const name = this.select.value;
    if (this.form === undefined || name === "" || this.callButton.disabled || !this.jsonError.hidden) return;
    this.form.clearErrors();
    const args = structuredClone(this.form.value());
    this.progress.hidden = true;
    this.progress.removeAttribute("value");
    const view = await this.stepWith(this.support.callAction(name, args), (p) => {
      if (p.progress === undefined) return;
      this.progress.hidden = false;
      this.progress.value = p.progress;
    });
    this.progress.hidden = true;
    if (view === undefined) return; // the page shows the failed call's error
    const r = toolResult(view.observation);
    const badges = [
      h("span", { class: "badge", id: "tool-called" }, r?.toolName ?? name),
      r?.error !== undefined || r?.isError === true
        ? h("span", { class: "badge warn", id: "tool-status" }, r.error?.type ?? "error")
        : h("span", { class: "badge good", id: "tool-status" }, "ok"),
      h("span", { class: "badge", id: "tool-reward" }, `reward ${fmt(view.reward)}`),
      view.stepCount === undefined ? null : h("span", { class: "badge subtle" }, `step ${view.stepCount}`),
      view.terminated ? h("span", { class: "badge good" }, "terminated") : null,
      view.truncated ? h("span", { class: "badge warn" }, "truncated") : null,
    ];
    this.result.replaceChildren(
      h("div", { class: "badges" }, ...badges),
      r === undefined ? h("pre", { class: "mono json" }, pretty(view.observation)) : drawToolResult(r),
    );
    if (r?.error?.type === "invalid_args") this.form.showErrors(argumentErrors(r.error.message));
  }
}
