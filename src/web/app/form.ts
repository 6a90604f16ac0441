import { h } from "./dom.js";
import type { FieldSpec } from "./fields.js";

/** A JSON object with proto field names: the form's value. */
export type JsonRecord = { [key: string]: unknown };

/** A problem with one field, at a path such as `tests[0].code`. */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/** A generated form and its JSON value. */
export interface GeneratedForm {
  readonly element: HTMLElement;
  value(): JsonRecord;
  /** Replaces the value (e.g. from the JSON editor) and redraws the inputs. */
  setValue(value: JsonRecord): void;
  /** Shows errors next to their fields; returns those that name no field of the form. */
  showErrors(errors: readonly FieldError[]): FieldError[];
  clearErrors(): void;
}

type Path = readonly (string | number)[];

/** `["tests", 0, "code"]` -> `tests[0].code`, the path format of field violations. */
export function pathString(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out === "" ? p : `.${p}`;
  return out;
}

/** `tests[0].code` -> `tests[0]` -> `tests` -> "". */
function parentPath(path: string): string {
  const parent = path.replace(/(\.[^.[\]]+|\[[^\]]*\])$/, "");
  return parent === path ? "" : parent;
}

function idFor(prefix: string, path: Path): string {
  return `${prefix}-${pathString(path).replace(/[^\w-]/g, "_")}`;
}

function getAt(root: JsonRecord, path: Path): unknown {
  let v: unknown = root;
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<string | number, unknown>)[p] : undefined;
  return v;
}

/** Sets (or, for `undefined`, removes) the value at a path, creating objects and lists on the way. */
function setAt(root: JsonRecord, path: Path, value: unknown): void {
  let v: Record<string | number, unknown> = root;
  for (let i = 0; i < path.length - 1; i++) {
    const p = path[i] as string | number;
    let next = v[p];
    if (next === null || typeof next !== "object") {
      next = typeof path[i + 1] === "number" ? [] : {};
      v[p] = next;
    }
    v = next as Record<string | number, unknown>;
  }
  const last = path[path.length - 1] as string | number;
  if (value === undefined) {
    if (Array.isArray(v) && typeof last === "number") v[last] = null;
    else delete v[last];
  } else {
    v[last] = value;
  }
}

/** A new item for a list of this field: a value the user then edits. */
function emptyItem(f: FieldSpec): unknown {
  switch (f.kind) {
    case "message":
      return {};
    case "boolean":
      return false;
    case "integer":
    case "number":
      return 0;
    case "enum":
      return f.enumValues?.[0] ?? "";
    case "json":
      return null;
    default:
      return "";
  }
}

/**
 * Generates a form for a message's fields: text, number and checkbox inputs,
 * selects for enums and allowed values, fieldsets for nested messages and lists
 * with add/remove buttons. The field rules become input constraints (`required`,
 * `maxlength`, `min`, `max`, `pattern`) and a hint under the input; the form does
 * not block on them (`novalidate`): the server's answer is the authority, and its
 * field errors are shown next to the field they name.
 */
export function generateForm(fields: readonly FieldSpec[], prefix: string, onChange: (value: JsonRecord) => void): GeneratedForm {
  let value: JsonRecord = {};
  const element = h("div", { class: "gen-form" });
  const errorSlots = new Map<string, { input: HTMLElement; slot: HTMLElement }>();

  const changed = (): void => onChange(value);

  const draw = (): void => {
    errorSlots.clear();
    element.replaceChildren(...fields.map((f) => fieldBlock(f, [f.name])));
    if (fields.length === 0) element.append(h("p", { class: "muted" }, "No fields known: edit the action as JSON."));
  };

  const fieldBlock = (f: FieldSpec, path: Path): HTMLElement => {
    if (f.repeated) return listBlock(f, path);
    if (f.kind === "message") {
      const legend = h("legend", {}, f.label, f.constraints.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null);
      const set = h("fieldset", { class: "nested", "data-path": pathString(path) }, legend);
      for (const child of f.fields ?? []) set.append(fieldBlock(child, [...path, child.name]));
      set.append(errorSlot(set, path));
      return set;
    }
    return scalarBlock(f, path, f.label);
  };

  const errorSlot = (input: HTMLElement, path: Path): HTMLElement => {
    const id = `${idFor(prefix, path)}-error`;
    const slot = h("p", { class: "field-error", id, role: "alert", hidden: true });
    errorSlots.set(pathString(path), { input, slot });
    return slot;
  };

  const listBlock = (f: FieldSpec, path: Path): HTMLElement => {
    const current = getAt(value, path);
    const items = Array.isArray(current) ? current : [];
    const set = h("fieldset", { class: "list", "data-path": pathString(path) }, h("legend", {}, `${f.label} (list)`));
    const item: FieldSpec = { ...f, repeated: false, label: "" };
    items.forEach((_, i) => {
      const itemPath = [...path, i];
      const remove = h(
        "button",
        {
          type: "button",
          class: "small",
          "aria-label": `Remove ${f.label} ${i + 1}`,
          onclick: () => {
            const list = getAt(value, path) as unknown[];
            list.splice(i, 1);
            if (list.length === 0) setAt(value, path, undefined);
            draw();
            changed();
          },
        },
        "Remove",
      );
      const body =
        f.kind === "message"
          ? fieldBlock({ ...item, label: `${f.label} ${i + 1}` }, itemPath)
          : scalarBlock(item, itemPath, `${f.label} ${i + 1}`);
      set.append(h("div", { class: "list-item" }, body, remove));
    });
    const add = h(
      "button",
      {
        type: "button",
        class: "small",
        "aria-label": `Add an item to ${f.label}`,
        onclick: () => {
          const list = Array.isArray(getAt(value, path)) ? (getAt(value, path) as unknown[]) : [];
          list.push(emptyItem(f));
          setAt(value, path, list);
          draw();
          changed();
          const first = element.querySelector<HTMLElement>(
            `[data-path="${pathString([...path, list.length - 1])}"] :is(input, select, textarea), #${idFor(prefix, [...path, list.length - 1])}`,
          );
          first?.focus();
        },
      },
      "Add item",
    );
    set.append(add, errorSlot(set, path));
    return set;
  };

  const scalarBlock = (f: FieldSpec, path: Path, label: string): HTMLElement => {
    const id = idFor(prefix, path);
    const c = f.constraints;
    const current = getAt(value, path);
    const errorId = `${id}-error`;
    const hintId = `${id}-hint`;
    const hints: string[] = [];
    if (c.minLen !== undefined) hints.push(`at least ${c.minLen} characters`);
    if (c.maxLen !== undefined && c.maxLen < 100_000) hints.push(`at most ${c.maxLen} characters`);
    if (c.gte !== undefined && c.lte !== undefined) hints.push(`${c.gte} to ${c.lte}`);
    else if (c.gte !== undefined) hints.push(`≥ ${c.gte}`);
    else if (c.lte !== undefined) hints.push(`≤ ${c.lte}`);
    if (c.pattern !== undefined) hints.push(`pattern ${c.pattern}`);
    if (f.typeName !== undefined && f.kind === "json") hints.push(`${f.typeName} as JSON`);
    const describedBy = `${hints.length > 0 ? `${hintId} ` : ""}${errorId}`;
    const common = {
      id,
      name: pathString(path),
      "data-path": pathString(path),
      "aria-describedby": describedBy,
      required: c.required === true,
    };
    let input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
    const update = (v: unknown): void => {
      setAt(value, path, v);
      changed();
    };
    const choices = f.kind === "enum" ? f.enumValues : f.kind === "string" ? c.allowed : undefined;
    if (choices !== undefined) {
      const select = h("select", common);
      const unset = f.optional || f.kind === "string" || current === undefined;
      if (unset) select.append(h("option", { value: "" }, f.kind === "enum" ? "(unset)" : "(choose)"));
      for (const name of choices) select.append(h("option", { value: name, selected: current === name }, name));
      if (typeof current === "number" && f.enumValues !== undefined) select.value = f.enumValues[current] ?? "";
      select.addEventListener("change", () => update(select.value === "" ? undefined : select.value));
      input = select;
    } else if (f.kind === "boolean") {
      if (f.optional) {
        const select = h(
          "select",
          common,
          h("option", { value: "" }, "(unset)"),
          h("option", { value: "true" }, "true"),
          h("option", { value: "false" }, "false"),
        );
        select.value = current === true ? "true" : current === false ? "false" : "";
        select.addEventListener("change", () => update(select.value === "" ? undefined : select.value === "true"));
        input = select;
      } else {
        const box = h("input", { ...common, type: "checkbox", checked: current === true });
        box.addEventListener("change", () => update(box.checked));
        input = box;
      }
    } else if (f.kind === "integer" || f.kind === "number") {
      const num = h("input", {
        ...common,
        type: "number",
        inputmode: f.kind === "integer" ? "numeric" : "decimal",
        step: f.kind === "integer" ? 1 : "any",
        min: c.gte ?? (f.unsigned ? 0 : undefined),
        max: c.lte,
        value: current === undefined || current === null ? "" : String(current),
      });
      num.addEventListener("input", () => {
        const raw = num.value.trim();
        if (raw === "") return update(undefined);
        const n = Number(raw);
        update(f.int64 === true && !Number.isSafeInteger(n) ? raw : n);
      });
      input = num;
    } else if (f.kind === "json") {
      const area = h("textarea", { ...common, rows: 3, spellcheck: false, class: "mono" });
      area.value = current === undefined ? "" : JSON.stringify(current);
      area.addEventListener("input", () => {
        if (area.value.trim() === "") return update(undefined);
        try {
          area.setCustomValidity("");
          update(JSON.parse(area.value));
        } catch {
          area.setCustomValidity("not valid JSON");
        }
      });
      input = area;
    } else {
      // Long text (code, content) gets a text area; names and words a one-line input.
      const long = /code|content|text|prompt|body|script|source|message/i.test(f.name) && !(c.maxLen !== undefined && c.maxLen <= 64);
      const text = long
        ? h("textarea", {
            ...common,
            rows: /code|script|source/i.test(f.name) ? 6 : 3,
            spellcheck: !/code|script|source/i.test(f.name),
            class: /code|script|source/i.test(f.name) ? "mono" : undefined,
          })
        : h("input", { ...common, type: "text", autocomplete: "off", spellcheck: false, pattern: c.pattern });
      if (c.maxLen !== undefined) text.setAttribute("maxlength", String(c.maxLen));
      if (c.minLen !== undefined) text.setAttribute("minlength", String(c.minLen));
      text.value = typeof current === "string" ? current : "";
      const inList = typeof path[path.length - 1] === "number";
      text.addEventListener("input", () => update(text.value === "" && !inList ? undefined : text.value));
      input = text;
    }
    const labelEl = h(
      "label",
      { for: id },
      label || "Value",
      c.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null,
      f.typeName !== undefined && f.kind === "enum" && f.typeName.split(".").pop() !== label.replace(/ /g, "")
        ? h("span", { class: "type" }, ` ${f.typeName.split(".").pop()}`)
        : null,
    );
    const block = h("div", { class: `field kind-${f.kind}` }, labelEl, input);
    if (hints.length > 0) block.append(h("p", { class: "hint", id: hintId }, hints.join(" · ")));
    block.append(errorSlot(input, path));
    return block;
  };

  const form: GeneratedForm = {
    element,
    value: () => value,
    setValue(v) {
      value = structuredClone(v);
      draw();
    },
    showErrors(errors) {
      form.clearErrors();
      const unplaced: FieldError[] = [];
      for (const e of errors) {
        // A violation of a list item's field may name a path deeper than the form draws (e.g. a map key).
        let key = e.path;
        while (!errorSlots.has(key) && key !== "") key = parentPath(key);
        const target = errorSlots.get(key);
        if (target === undefined) {
          unplaced.push(e);
          continue;
        }
        target.slot.hidden = false;
        target.slot.textContent = target.slot.textContent ? `${target.slot.textContent}; ${e.message}` : e.message;
        target.input.setAttribute("aria-invalid", "true");
      }
      return unplaced;
    },
    clearErrors() {
      for (const { input, slot } of errorSlots.values()) {
        slot.hidden = true;
        slot.textContent = "";
        input.removeAttribute("aria-invalid");
      }
    },
  };
  draw();
  return form;
}
