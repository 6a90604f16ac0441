/** A value, or a promise of it: rubrics may score synchronously or asynchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** What a rubric knows about the step it scores, besides the action and observation. */
export interface RubricContext {
  /** The episode is over after this step (terminated or truncated). */
  readonly done: boolean;
  /** Index of the step in its episode, 1 for the first step. */
  readonly step: number;
  /** Aborted when the step is cancelled (deadline, session closed); async rubrics should stop. */
  readonly signal?: AbortSignal;
}

/** The context used when a caller gives none: a mid-episode step. */
export const defaultRubricContext: RubricContext = { done: false, step: 1 };

/** Called before a rubric scores. */
export type PreHook<A, O> = (rubric: Rubric<A, O>, action: A, observation: O) => void;
/** Called after a rubric scored, with its score. */
export type PostHook<A, O> = (rubric: Rubric<A, O>, action: A, observation: O, score: number) => void;

/** A node of a rubric tree, for introspection (see {@link Rubric.tree}). */
export interface RubricNode {
  /** The node's name under its parent; empty for the root. */
  readonly name: string;
  /** Dotted path from the root, e.g. `quality.fluency`; empty for the root. */
  readonly path: string;
  /** The rubric's class name, e.g. `WeightedSum`. */
  readonly kind: string;
  /** The score of the last evaluation, if it ran. */
  readonly lastScore: number | undefined;
  /** Parameters worth showing, e.g. `{ weight: 0.3 }` or `{ threshold: 0.5 }`. */
  readonly params: Readonly<Record<string, number | string | boolean>>;
  readonly children: readonly RubricNode[];
}

const namePattern = /^[A-Za-z0-9_-]+$/;

/** True when `v` is a promise (or any thenable). */
export function isPromiseLike<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

/**
 * A composable unit of reward computation (OpenEnv's RFC 004): scores an
 * (action, observation) pair, synchronously or asynchronously, and may hold
 * named child rubrics that form a tree.
 *
 * Subclasses implement {@link forward}; callers use {@link score}, which
 * runs hooks and records {@link lastScore}. Children are registered with
 * {@link register} (TypeScript has no attribute-assignment hook like
 * PyTorch-style Python), and their names make the dotted paths reported by
 * {@link namedRubrics} and {@link scores}.
 *
 * @example
 * ```ts
 * class Exact extends Rubric<{ answer: string }, { expected: string }> {
 *   protected forward(a: { answer: string }, o: { expected: string }) { return a.answer === o.expected ? 1 : 0; }
 * }
 * ```
 */
export abstract class Rubric<A = unknown, O = unknown> {
  /** Score of the last evaluation; undefined before the first one and after {@link reset}. */
  lastScore: number | undefined;
  private readonly childMap = new Map<string, Rubric<A, O>>();
  private readonly preHooks: PreHook<A, O>[] = [];
  private readonly postHooks: PostHook<A, O>[] = [];

  /** Computes the score. Return a promise to score asynchronously. */
  protected abstract forward(action: A, observation: O, context: RubricContext): MaybePromise<number>;

  /**
   * Scores a step: pre-hooks, {@link forward}, then records {@link lastScore}
   * and runs post-hooks. Returns a number when the tree is synchronous and a
   * promise when any part of it is asynchronous.
   */
  score(action: A, observation: O, context: RubricContext = defaultRubricContext): MaybePromise<number> {
    for (const hook of this.preHooks) hook(this, action, observation);
    const out = this.forward(action, observation, context);
    if (isPromiseLike(out)) return out.then((v) => this.record(v, action, observation));
    return this.record(out, action, observation);
  }

  /** {@link score}, always as a promise. */
  async evaluate(action: A, observation: O, context: RubricContext = defaultRubricContext): Promise<number> {
    return this.score(action, observation, context);
  }

  /** Adds a hook run before each scoring; returns a function that removes it. */
  addPreHook(hook: PreHook<A, O>): () => void {
    this.preHooks.push(hook);
    return () => remove(this.preHooks, hook);
  }

  /** Adds a hook run after each scoring with the score; returns a function that removes it. */
  addPostHook(hook: PostHook<A, O>): () => void {
    this.postHooks.push(hook);
    return () => remove(this.postHooks, hook);
  }

  /** Direct children, in registration order. */
  children(): Rubric<A, O>[] {
    return [...this.childMap.values()];
  }

  /** Direct children with their names. */
  namedChildren(): [string, Rubric<A, O>][] {
    return [...this.childMap.entries()];
  }

  /** Every descendant, depth-first, with its dotted path (e.g. `quality.fluency`). */
  namedRubrics(prefix = ""): [string, Rubric<A, O>][] {
    const out: [string, Rubric<A, O>][] = [];
    for (const [name, child] of this.childMap) {
      const path = prefix === "" ? name : `${prefix}.${name}`;
      out.push([path, child]);
      out.push(...child.namedRubrics(path));
    }
    return out;
  }

  /** Every descendant, depth-first. */
  rubrics(): Rubric<A, O>[] {
    return this.namedRubrics().map(([, r]) => r);
  }

  /** The descendant at a dotted path; throws `Rubric path not found: a.b` when there is none. */
  get(path: string): Rubric<A, O> {
    let node: Rubric<A, O> | undefined = this;
    for (const part of path.split(".")) {
      node = node?.childMap.get(part);
      if (node === undefined) throw new Error(`Rubric path not found: ${path}`);
    }
    return node;
  }

  /**
   * The last scores of the named descendants, by dotted path: what a step
   * reports as its reward components. Descendants that did not run in the
   * last evaluation (e.g. after a failed gate) are left out.
   */
  scores(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [path, rubric] of this.namedRubrics()) {
      if (rubric.lastScore !== undefined) out[path] = rubric.lastScore;
    }
    return out;
  }

  /** Starts a new episode: clears last scores and per-episode state of the whole tree. */
  reset(): void {
    this.lastScore = undefined;
    this.onReset();
    for (const child of this.childMap.values()) child.reset();
  }

  /** Clears {@link lastScore} in the whole tree (not episode state), before an evaluation. */
  clearScores(): void {
    this.lastScore = undefined;
    for (const child of this.childMap.values()) child.clearScores();
  }

  /** The tree below (and including) this rubric, for introspection. */
  tree(name = "", path = ""): RubricNode {
    return {
      name,
      path,
      kind: this.constructor.name,
      lastScore: this.lastScore,
      params: this.params(),
      children: this.namedChildren().map(([n, c]) => c.tree(n, path === "" ? n : `${path}.${n}`)),
    };
  }

  /** The tree as indented text, one rubric per line with its parameters and last score. */
  toString(): string {
    const lines: string[] = [];
    const walk = (node: RubricNode, depth: number): void => {
      const params = Object.entries(node.params).map(([k, v]) => `${k}=${v}`);
      const score = node.lastScore === undefined ? "" : ` = ${node.lastScore}`;
      const label = node.name === "" ? node.kind : `${node.name}: ${node.kind}`;
      lines.push(`${"  ".repeat(depth)}${label}${params.length > 0 ? `(${params.join(", ")})` : ""}${score}`);
      for (const child of node.children) walk(child, depth + 1);
    };
    walk(this.tree(), 0);
    return lines.join("\n");
  }

  /** Registers a named child; returns it. Names are letters, digits, `_` and `-`, unique per parent. */
  protected register<R extends Rubric<A, O>>(name: string, child: R): R {
    if (!namePattern.test(name)) throw new Error(`invalid rubric name '${name}': use letters, digits, '_' and '-'`);
    if (this.childMap.has(name)) throw new Error(`duplicate rubric name '${name}'`);
    if (!(child instanceof Rubric)) throw new TypeError(`rubric '${name}' is not a Rubric`);
    this.childMap.set(name, child);
    return child;
  }

  /** Parameters shown by {@link tree}; containers override it. */
  protected params(): Record<string, number | string | boolean> {
    return {};
  }

  /** Clears per-episode state; called by {@link reset}. */
  protected onReset(): void {}

  private record(value: number, action: A, observation: O): number {
    if (typeof value !== "number" || Number.isNaN(value)) {
      throw new TypeError(`${this.constructor.name} returned ${String(value)}, not a number`);
    }
    this.lastScore = value;
    for (const hook of this.postHooks) hook(this, action, observation, value);
    return value;
  }
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
