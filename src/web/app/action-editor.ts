import { h, pretty } from "./dom.js";
import type { FieldSpec } from "./fields.js";
import { type GeneratedForm, generateForm, type JsonRecord } from "./form.js";

/** The action, as a generated form and as JSON side by side, each kept in step with the other. */
export class ActionEditor {
  private generated: GeneratedForm | undefined;
  private readonly json = h("textarea", {
    id: "action-json",
    class: "mono",
    rows: 10,
    spellcheck: false,
    "aria-describedby": "action-json-error",
  });
  private readonly jsonError = h("p", { id: "action-json-error", class: "field-error", hidden: true });
  private readonly formSlot = h("div", { id: "action-form" });
  readonly element = h("form", { id: "action", novalidate: true, "aria-labelledby": "action-title" });

  /** `onStep` runs on submit (the step button) and on Ctrl/Cmd+Enter. */
  constructor(stepButton: HTMLButtonElement, onStep: () => void) {
    this.element.addEventListener("submit", (ev) => {
      ev.preventDefault();
      onStep();
    });
    this.element.addEventListener("keydown", (ev) => {
      // Ctrl/Cmd+Enter steps from anywhere in the action, text areas included.
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        onStep();
      }
    });
    this.json.addEventListener("input", () => this.jsonEdited());
    this.element.append(
      h(
        "div",
        { class: "split" },
        h("div", { class: "pane" }, h("h3", {}, "Form"), this.formSlot),
        h("div", { class: "pane" }, h("h3", {}, h("label", { for: "action-json" }, "JSON")), this.json, this.jsonError),
      ),
      h("div", { class: "actions" }, stepButton, h("span", { class: "muted kbd-hint" }, "Ctrl+Enter")),
    );
  }

  /** The form for the environment's action fields; undefined until {@link load}. */
  get form(): GeneratedForm | undefined {
    return this.generated;
  }

  load(fields: readonly FieldSpec[]): void {
    this.generated = generateForm(fields, "action", (v) => this.formEdited(v));
    this.formSlot.replaceChildren(this.generated.element);
    this.json.value = pretty(this.generated.value());
  }

  /** Replaces the action (a renderer's button, the tools panel). */
  setValue(action: JsonRecord): void {
    this.generated?.setValue(action);
    this.formEdited(action);
  }

  private formEdited(value: JsonRecord): void {
    this.json.value = pretty(value);
    this.jsonError.hidden = true;
    this.json.removeAttribute("aria-invalid");
  }

  private jsonEdited(): void {
    try {
      const v: unknown = JSON.parse(this.json.value);
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SyntaxError("the action must be a JSON object");
      this.generated?.setValue(v as JsonRecord);
      this.jsonError.hidden = true;
      this.json.removeAttribute("aria-invalid");
    } catch (err) {
      this.jsonError.hidden = false;
      this.jsonError.textContent = err instanceof Error ? err.message : String(err);
      this.json.setAttribute("aria-invalid", "true");
    }
  }
}
