import { isPromiseLike, type MaybePromise, Rubric, type RubricContext, type RubricNode } from "./rubric.js";

/** A rubric's children given as a list (named `rubric_0`, `rubric_1`, ...) or by name. */
export type RubricChildren<A, O> = readonly Rubric<A, O>[] | Readonly<Record<string, Rubric<A, O>>>;

function entriesOf<A, O>(children: RubricChildren<A, O>): [string, Rubric<A, O>][] {
  return Array.isArray(children)
    ? (children as readonly Rubric<A, O>[]).map((r, i) => [`rubric_${i}`, r] as [string, Rubric<A, O>])
    : Object.entries(children as Record<string, Rubric<A, O>>);
}

/** A rubric made from a function, for one-off criteria. */
export class FunctionRubric<A = unknown, O = unknown> extends Rubric<A, O> {
  constructor(private readonly fn: (action: A, observation: O, context: RubricContext) => MaybePromise<number>) {
    super();
  }

  protected forward(action: A, observation: O, context: RubricContext): MaybePromise<number> {
    return this.fn(action, observation, context);
  }
}

/** Shorthand for `new FunctionRubric(fn)`. */
export function rubric<A = unknown, O = unknown>(
  fn: (action: A, observation: O, context: RubricContext) => MaybePromise<number>,
): FunctionRubric<A, O> {
  return new FunctionRubric(fn);
}

/** Options of {@link WeightedSum}. */
export interface WeightedSumOptions {
  /**
   * Require the weights to sum to 1 (±1e-6), as OpenEnv does. Default true;
   * false allows penalties (negative weights) and unnormalised sums.
   */
  readonly normalized?: boolean;
}

/**
 * The weighted sum of its children's scores. Asynchronous children run
 * concurrently.
 *
 * @example
 * ```ts
 * new WeightedSum({ format: formatRubric, correct: correctRubric }, { format: 0.2, correct: 0.8 });
 * new WeightedSum([formatRubric, correctRubric], [0.2, 0.8]); // children rubric_0, rubric_1
 * ```
 */
export class WeightedSum<A = unknown, O = unknown> extends Rubric<A, O> {
  private readonly weighted: { name: string; rubric: Rubric<A, O>; weight: number }[] = [];

  constructor(
    children: RubricChildren<A, O>,
    weights: readonly number[] | Readonly<Record<string, number>>,
    options: WeightedSumOptions = {},
  ) {
    super();
    const entries = entriesOf(children);
    if (Array.isArray(weights) !== Array.isArray(children)) {
      throw new Error("WeightedSum: give rubrics and weights both as lists or both as records");
    }
    const list = weights as readonly number[];
    const record = weights as Readonly<Record<string, number>>;
    if (Array.isArray(weights)) {
      if (list.length !== entries.length) {
        throw new Error(`WeightedSum: ${entries.length} rubrics but ${list.length} weights; lengths must match`);
      }
    } else {
      const extra = Object.keys(record).filter((k) => !entries.some(([n]) => n === k));
      if (extra.length > 0) throw new Error(`WeightedSum: weights for unknown rubrics: ${extra.join(", ")}`);
    }
    entries.forEach(([name, child], i) => {
      const weight = Array.isArray(weights) ? list[i] : record[name];
      if (typeof weight !== "number" || !Number.isFinite(weight)) {
        throw new Error(`WeightedSum: weight of '${name}' must be a finite number, got ${String(weight)}`);
      }
      this.weighted.push({ name, rubric: this.register(name, child), weight });
    });
    const total = this.weighted.reduce((s, w) => s + w.weight, 0);
    if (options.normalized !== false && Math.abs(total - 1) > 1e-6) {
      throw new Error(`WeightedSum: weights must sum to 1.0, got ${total} (pass { normalized: false } to allow that)`);
    }
  }

  /** The weight of a child by name. */
  weightOf(name: string): number | undefined {
    return this.weighted.find((w) => w.name === name)?.weight;
  }

  protected forward(action: A, observation: O, context: RubricContext): MaybePromise<number> {
    const scores = this.weighted.map((w) => w.rubric.score(action, observation, context));
    const sum = (values: readonly number[]): number => values.reduce((s, v, i) => s + v * this.weighted[i].weight, 0);
    return scores.some(isPromiseLike) ? Promise.all(scores).then(sum) : sum(scores as number[]);
  }

  override tree(name = "", path = ""): RubricNode {
    const node = super.tree(name, path);
    return {
      ...node,
      children: node.children.map((c) => ({ ...c, params: { ...c.params, weight: this.weightOf(c.name) ?? 0 } })),
    };
  }
}

/**
 * Passes its child's score through when it reaches the threshold, else 0
 * (OpenEnv's `Gate`).
 */
export class Gate<A = unknown, O = unknown> extends Rubric<A, O> {
  readonly rubric: Rubric<A, O>;

  constructor(
    rubric: Rubric<A, O>,
    readonly threshold = 1.0,
  ) {
    super();
    this.rubric = this.register("rubric", rubric);
  }

  protected forward(action: A, observation: O, context: RubricContext): MaybePromise<number> {
    const gate = (v: number): number => (v < this.threshold ? 0 : v);
    const s = this.rubric.score(action, observation, context);
    return isPromiseLike(s) ? s.then(gate) : gate(s);
  }

  protected override params() {
    return { threshold: this.threshold };
  }
}

/**
 * Runs its children in order and stops at the first that scores exactly 0
 * (fail-fast: later children do not run, and the result is 0). Otherwise
 * the result is the last child's score; with no children it is 1.
 */
export class Sequential<A = unknown, O = unknown> extends Rubric<A, O> {
  private readonly steps: Rubric<A, O>[];

  constructor(children: RubricChildren<A, O>) {
    super();
    this.steps = entriesOf(children).map(([name, child]) => this.register(name, child));
  }

  protected forward(action: A, observation: O, context: RubricContext): MaybePromise<number> {
    let last = 1;
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i].score(action, observation, context);
      if (isPromiseLike(s)) return s.then((v) => this.continueAsync(v, i + 1, action, observation, context));
      if (s === 0) return 0;
      last = s;
    }
    return last;
  }

  private async continueAsync(first: number, from: number, action: A, observation: O, context: RubricContext): Promise<number> {
    if (first === 0) return 0;
    let last = first;
    for (let i = from; i < this.steps.length; i++) {
      const v = await this.steps[i].score(action, observation, context);
      if (v === 0) return 0;
      last = v;
    }
    return last;
  }
}

/** A list of rubrics with no aggregation (OpenEnv's `RubricList`): for holding and introspecting; it cannot score. */
export class RubricList<A = unknown, O = unknown> extends Rubric<A, O> {
  constructor(rubrics: readonly Rubric<A, O>[] = []) {
    super();
    for (const r of rubrics) this.push(r);
  }

  /** Appends a rubric, named by its index. */
  push(r: Rubric<A, O>): this {
    this.register(String(this.children().length), r);
    return this;
  }

  /** The rubric at an index. */
  at(i: number): Rubric<A, O> | undefined {
    return this.children()[i];
  }

  get length(): number {
    return this.children().length;
  }

  protected forward(): number {
    throw new Error("RubricList is a container and cannot score; score its items or wrap them in WeightedSum/Sequential");
  }
}

/** Rubrics by name with no aggregation (OpenEnv's `RubricDict`): for holding and introspecting; it cannot score. */
export class RubricDict<A = unknown, O = unknown> extends Rubric<A, O> {
  constructor(rubrics: Readonly<Record<string, Rubric<A, O>>> = {}) {
    super();
    for (const [name, r] of Object.entries(rubrics)) this.set(name, r);
  }

  /** Adds a named rubric. */
  set(name: string, r: Rubric<A, O>): this {
    this.register(name, r);
    return this;
  }

  /** Names of the rubrics. */
  keys(): string[] {
    return this.namedChildren().map(([n]) => n);
  }

  protected forward(): number {
    throw new Error("RubricDict is a container and cannot score; score its items or wrap them in WeightedSum/Sequential");
  }
}
