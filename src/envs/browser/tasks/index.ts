import { clickButton, clickLink, deleteRow } from "./clicks.js";
import { chooseDropdown, chooseRadio, enterText, loginForm, scrollTerms, tickCheckboxes } from "./forms.js";
import { copyCode, navigateTwoPages, readValue } from "./navigation.js";
import type { TaskDefinition } from "./types.js";

export type { PageState, Submission, TaskDefinition, TaskInstance, TaskPage, TaskRequest, Verdict } from "./types.js";

/** The bundled tasks, in the order of `BrowserResetOptions.task`'s allowed values. */
export const browserTasks: readonly TaskDefinition[] = [
  clickButton,
  clickLink,
  loginForm,
  chooseDropdown,
  tickCheckboxes,
  chooseRadio,
  enterText,
  navigateTwoPages,
  readValue,
  scrollTerms,
  deleteRow,
  copyCode,
];

/** A bundled task by name. */
export function findTask(name: string): TaskDefinition | undefined {
  return browserTasks.find((t) => t.name === name);
}
