import type { SeededRandom } from "../../common/random.js";
import type { PageState, Submission, TaskInstance, TaskPage, Verdict } from "./types.js";

/** Escapes text for HTML content and attribute values. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const style = `
body { font: 14px sans-serif; margin: 0; padding: 8px; color: #111; background: #fff; }
#goal { background: #ffd; border: 1px solid #cc8; padding: 6px; margin-bottom: 10px; }
button, input, select { font: inherit; margin: 2px; }
table { border-collapse: collapse; } td, th { border: 1px solid #999; padding: 2px 6px; }
`;

/**
 * A task page: the goal at the top (as MiniWoB shows its query, so a
 * screenshot carries it too) and the body, with the task's random offset.
 */
export function page(title: string, goal: string, body: string, offset = ""): TaskPage {
  return {
    html: `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>${style}</style></head><body><div id="goal">${esc(goal)}</div><main style="${offset}">${body}</main></body></html>`,
  };
}

/** A random margin that moves the task's content, so positions differ between seeds. */
export function offset(random: SeededRandom): string {
  return `margin: ${random.int(60)}px 0 0 ${random.int(160)}px;`;
}

/** A small random margin for one element. */
export function jitter(random: SeededRandom): string {
  return `margin: ${2 + random.int(10)}px ${2 + random.int(24)}px;`;
}

/** `count` distinct items of `pool`, in random order. */
export function sample<T>(random: SeededRandom, pool: readonly T[], count: number): T[] {
  return random.shuffle([...pool]).slice(0, count);
}

/** An integer in [min, max]. */
export function between(random: SeededRandom, min: number, max: number): number {
  return min + random.int(max - min + 1);
}

/** "Thanks" page served after a form is posted. */
export function submitted(title: string): TaskPage {
  return { html: `<!doctype html><html lang="en"><head><title>${esc(title)}</title></head><body><p>Submitted.</p></body></html>` };
}

/** The first form posted to `path`, if any. */
export function firstSubmission(state: PageState, path: string): Submission | undefined {
  return state.submissions.find((s) => s.path === path);
}

/** The single value of a field of a submission ("" when absent). */
export function field(submission: Submission, name: string): string {
  return submission.fields[name]?.[0] ?? "";
}

/** A verdict for tasks that end with one form post: done at the first post, successful when `ok` accepts it. */
export function onSubmit(state: PageState, path: string, ok: (s: Submission) => boolean): Verdict {
  const s = firstSubmission(state, path);
  return s === undefined ? { done: false, success: false } : { done: true, success: ok(s) };
}

/** A join in English: "a", "a and b", "a, b and c". */
export function listing(items: readonly string[]): string {
  if (items.length <= 1) return items.join("");
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}

/** Short, distinct words for labels. */
export const WORDS: readonly string[] = `
  amber apple aspen azure basil birch bison cedar cherry cobalt coral cotton daisy delta dune ember fern fig
  flint garnet ginger hazel heron indigo iris ivory jade juniper kiwi lemon lilac lime lotus maple marble
  mango mint moss navy nectar oak olive onyx orchid otter pearl pepper pine plum poppy quartz raven rose ruby
  sage salmon sand sky slate spruce swan tansy teal thyme tulip umber violet walnut willow wren yarrow
`
  .trim()
  .split(/\s+/);

/** First names for users. */
export const NAMES: readonly string[] = `
  Ada Alan Alice Amara Arjun Bea Bruno Carla Chen Dara Diego Elena Emil Farah Felix Gita Hana Hugo Ines Ivan
  Jonas Kai Lara Leo Lina Luca Maya Mei Nadia Nico Omar Olga Pablo Priya Quinn Rafa Rosa Sami Sara Tariq
  Tomas Uma Vera Wen Yara Yusuf Zoe
`
  .trim()
  .split(/\s+/);

/** Capitalises the first letter. */
export function capitalize(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** Settings of {@link formTask}. */
export interface FormTaskOptions {
  readonly title: string;
  readonly goal: string;
  /** The page's HTML below the goal; its form posts to `submit` (relative to the entry). */
  readonly body: string;
  readonly maxSteps: number;
  /** Position of the content. */
  readonly offset: string;
  /** Whether the posted form is what the goal asked for. */
  readonly ok: (submission: Submission) => boolean;
}

/** A task of one page whose form, once posted, ends the episode. */
export function formTask(name: string, o: FormTaskOptions): TaskInstance {
  const entry = `/${name}/`;
  const submit = `${entry}submit`;
  const start = page(o.title, o.goal, o.body, o.offset);
  return {
    goal: o.goal,
    maxSteps: o.maxSteps,
    entry,
    serve: (r) =>
      r.path === entry && r.method === "GET" ? start : r.path === submit && r.method === "POST" ? submitted(o.title) : undefined,
    check: (state) => onSubmit(state, submit, o.ok),
  };
}
