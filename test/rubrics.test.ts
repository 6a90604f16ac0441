import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ExponentialDiscountingTrajectoryRubric,
  evaluateRubric,
  Gate,
  LLMJudge,
  type MaybePromise,
  Rubric,
  RubricDict,
  RubricList,
  rubric,
  Sequential,
  WeightedSum,
} from "../src/server/rubrics/index.js";
import { parseJudgeScore, renderTemplate } from "../src/server/rubrics/llm-judge.js";
import { FakeLlmServer } from "./fixtures/fake-llm.js";
import { waitFor } from "./fixtures/wait-for.js";

type A = { answer: string };
type O = { expected: string };

const constant = (v: number) => rubric<A, O>(() => v);
const later = (v: number, ms = 5) => rubric<A, O>(() => new Promise<number>((r) => setTimeout(() => r(v), ms)));
const act: A = { answer: "x" };
const obs: O = { expected: "x" };

/** Counts how often it scored. */
class Counting extends Rubric<A, O> {
  calls = 0;
  constructor(private readonly value: number) {
    super();
  }
  protected forward(): number {
    this.calls++;
    return this.value;
  }
}

describe("WeightedSum", () => {
  it("sums weighted child scores synchronously when every child is synchronous", () => {
    const r = new WeightedSum({ format: constant(1), correct: constant(0.5) }, { format: 0.2, correct: 0.8 });
    const s = r.score(act, obs);
    expect(typeof s).toBe("number");
    expect(s).toBeCloseTo(0.2 * 1 + 0.8 * 0.5);
    expect(r.scores()).toEqual({ format: 1, correct: 0.5 });
    expect(r.lastScore).toBeCloseTo(0.6);
  });

  it("awaits asynchronous children concurrently", async () => {
    const r = new WeightedSum([later(1, 30), later(0, 30), constant(0.5)], [0.5, 0.25, 0.25]);
    const s = r.score(act, obs);
    expect(s).toBeInstanceOf(Promise);
    expect(await s).toBeCloseTo(0.5 + 0.125);
    expect(Object.keys(r.scores())).toEqual(["rubric_0", "rubric_1", "rubric_2"]);
  });

  it("validates weights", () => {
    expect(() => new WeightedSum([constant(1)], [0.5])).toThrow(/must sum to 1.0, got 0.5/);
    expect(() => new WeightedSum([constant(1), constant(1)], [1])).toThrow(/2 rubrics but 1 weights/);
    expect(() => new WeightedSum({ a: constant(1) }, { a: 1, b: 0 })).toThrow(/unknown rubrics: b/);
    expect(() => new WeightedSum({ a: constant(1) }, { a: Number.NaN })).toThrow(/finite/);
    const penalties = new WeightedSum({ goal: constant(1), cost: constant(1) }, { goal: 1, cost: -0.01 }, { normalized: false });
    expect(penalties.score(act, obs)).toBeCloseTo(0.99);
  });
});

describe("Gate", () => {
  it("passes scores at or above the threshold and zeroes the rest", async () => {
    expect(new Gate(constant(0.7), 0.5).score(act, obs)).toBe(0.7);
    expect(new Gate(constant(0.5), 0.5).score(act, obs)).toBe(0.5);
    expect(new Gate(constant(0.49), 0.5).score(act, obs)).toBe(0);
    expect(new Gate(constant(0.99)).score(act, obs)).toBe(0); // default threshold 1.0
    expect(await new Gate(later(0.8), 0.5).score(act, obs)).toBe(0.8);
  });
});

describe("Sequential", () => {
  it("returns the last score when no child fails", () => {
    expect(new Sequential([constant(0.5), constant(0.25)]).score(act, obs)).toBe(0.25);
    expect(new Sequential([]).score(act, obs)).toBe(1);
  });

  it("stops at the first zero and leaves later children unscored", () => {
    const after = new Counting(1);
    const r = new Sequential({ compiles: constant(0), tests: after });
    expect(evaluateRubric(r, act, obs, { done: false, step: 1 })).toEqual({ reward: 0, components: { compiles: 0 } });
    expect(after.calls).toBe(0);
  });

  it("switches to async when a child is async, and still fails fast", async () => {
    const after = new Counting(1);
    expect(await new Sequential([later(0.5), constant(0.75)]).score(act, obs)).toBe(0.75);
    expect(await new Sequential([constant(1), later(0), after]).score(act, obs)).toBe(0);
    expect(after.calls).toBe(0);
  });
});

describe("rubric trees", () => {
  const build = () =>
    new WeightedSum(
      {
        quality: new WeightedSum({ fluency: constant(1), relevance: constant(0.5) }, { fluency: 0.5, relevance: 0.5 }),
        safety: new Gate(constant(1), 0.9),
      },
      { quality: 0.6, safety: 0.4 },
    );

  it("names every descendant by dotted path and finds it", () => {
    const r = build();
    expect(r.namedRubrics().map(([p]) => p)).toEqual(["quality", "quality.fluency", "quality.relevance", "safety", "safety.rubric"]);
    expect(r.get("quality.relevance")).toBeInstanceOf(Rubric);
    expect(() => r.get("quality.nope")).toThrow("Rubric path not found: quality.nope");
  });

  it("reports every named score and an introspectable tree", () => {
    const r = build();
    const result = evaluateRubric(r, act, obs, { done: false, step: 1 });
    expect(result).toEqual({
      reward: 0.6 * 0.75 + 0.4 * 1,
      components: { quality: 0.75, "quality.fluency": 1, "quality.relevance": 0.5, safety: 1, "safety.rubric": 1 },
    });
    const tree = r.tree();
    expect(tree.kind).toBe("WeightedSum");
    expect(tree.children.map((c) => [c.name, c.kind, c.params.weight])).toEqual([
      ["quality", "WeightedSum", 0.6],
      ["safety", "Gate", 0.4],
    ]);
    expect(tree.children[1].params.threshold).toBe(0.9);
    expect(tree.children[0].children[1].path).toBe("quality.relevance");
    expect(r.toString()).toContain("safety: Gate(threshold=0.9, weight=0.4) = 1");
  });

  it("runs hooks and clears scores on reset", () => {
    const r = build();
    const seen: string[] = [];
    const removePre = r.addPreHook(() => seen.push("pre"));
    r.addPostHook((_r, _a, _o, score) => seen.push(`post:${score}`));
    r.score(act, obs);
    removePre();
    r.score(act, obs);
    expect(seen).toEqual(["pre", "post:0.85", "post:0.85"]);
    r.reset();
    expect(r.lastScore).toBeUndefined();
    expect(r.scores()).toEqual({});
  });

  it("rejects a non-number score and bad child names", () => {
    expect(() => rubric<A, O>(() => Number.NaN).score(act, obs)).toThrow(/returned NaN/);
    expect(() => new RubricDict({ "a.b": constant(1) })).toThrow(/invalid rubric name 'a.b'/);
  });

  it("keeps list and dict containers for introspection only", () => {
    const list = new RubricList([constant(1), constant(2)]);
    expect(list.length).toBe(2);
    expect(list.namedChildren().map(([n]) => n)).toEqual(["0", "1"]);
    expect(() => list.score(act, obs)).toThrow(/container/);
    const dict = new RubricDict({ a: constant(1) }).set("b", constant(2));
    expect(dict.keys()).toEqual(["a", "b"]);
    expect(dict.get("b").score(act, obs)).toBe(2);
    expect(() => dict.score(act, obs)).toThrow(/container/);
  });
});

describe("TrajectoryRubric", () => {
  it("gives intermediate rewards, scores the episode at the end and discounts the credit", () => {
    const r = new ExponentialDiscountingTrajectoryRubric<A, O>({
      gamma: 0.5,
      intermediateReward: 0.01,
      score: (traj) => (traj.at(-1)?.action.answer === "win" ? 1 : 0),
    });
    expect(r.score({ answer: "a" }, obs, { done: false, step: 1 })).toBe(0.01);
    expect(r.score({ answer: "b" }, obs, { done: false, step: 2 })).toBe(0.01);
    expect(r.stepRewards).toBeUndefined();
    expect(r.score({ answer: "win" }, obs, { done: true, step: 3 })).toBe(1);
    expect(r.trajectory.map((s) => s.action.answer)).toEqual(["a", "b", "win"]);
    expect(r.stepRewards).toEqual([0.25, 0.5, 1]);
    r.reset();
    expect(r.trajectory).toEqual([]);
    expect(r.stepRewards).toBeUndefined();
    expect(r.score({ answer: "lose" }, obs, { done: true, step: 1 })).toBe(0);
    expect(r.stepRewards).toEqual([0]);
  });

  it("scores asynchronously and validates gamma", async () => {
    const r = new ExponentialDiscountingTrajectoryRubric<A, O>({ gamma: 1, score: async (traj) => traj.length });
    expect(r.score(act, obs, { done: false, step: 1 })).toBe(0);
    expect(await r.score(act, obs, { done: true, step: 2 })).toBe(2);
    expect(r.stepRewards).toEqual([2, 2]);
    expect(() => new ExponentialDiscountingTrajectoryRubric({ gamma: 1.5 })).toThrow(/gamma must be in \[0, 1\]/);
  });
});

describe("judge score parsing", () => {
  it.each([
    ['{"score": 0.8, "reason": "good"}', 0.8, "good"],
    ['Sure!\n```json\n{"score": "0.25", "explanation": "meh"}\n```', 0.25, "meh"],
    ["The answer is mostly right. Score: 7/10", 0.7, undefined],
    ["I'd rate it 3 out of 4.", 0.75, undefined],
    ["Reasoning: 1. clear 2. concise.\nFinal score: 0.9", 0.9, undefined],
    ["**Rating:** 4", 4, undefined],
    ["0.6", 0.6, undefined],
  ])("parses %j", (text, score, reason) => {
    const v = parseJudgeScore(text);
    expect(v?.score).toBeCloseTo(score);
    expect(v?.reason).toBe(reason);
  });

  it("returns undefined when there is no number, and honours a custom pattern", () => {
    expect(parseJudgeScore("no idea")).toBeUndefined();
    expect(parseJudgeScore("grade=B points=[42] 7", /points=\[(\d+)\]/)?.score).toBe(42);
  });

  it("renders only known placeholders", () => {
    expect(renderTemplate('{a} and {b} but not {"score": 1} nor {c}', { a: "1", b: "2" })).toBe('1 and 2 but not {"score": 1} nor {c}');
  });
});

describe("LLMJudge against a local OpenAI-compatible server", () => {
  let llm: FakeLlmServer;
  beforeAll(async () => {
    llm = await new FakeLlmServer((req) => {
      const prompt = req.messages.at(-1)?.content ?? "";
      if (prompt.includes("HANG")) return "hang";
      if (prompt.includes("FAIL-ONCE") && llm.requests.filter((r) => r.messages.at(-1)?.content === prompt).length === 1) {
        return { status: 503, body: '{"error":"overloaded"}' };
      }
      if (prompt.includes("GIBBERISH")) return "I cannot grade this.";
      if (prompt.includes("TEN")) return "Score: 8";
      return '{"score": 0.75, "reason": "polite"}';
    }).start();
  });
  afterAll(async () => {
    await llm.close();
  });

  it("sends the rendered prompt, model and key, and parses the verdict", async () => {
    const judge = new LLMJudge<A, O>({
      promptTemplate: "Grade {answer} against {expected}.",
      variables: (a, o) => ({ answer: a.answer, expected: o.expected }),
      baseUrl: llm.baseUrl,
      model: "judge-model",
      apiKey: "sk-test",
      systemPrompt: "You are strict.",
    });
    const before = llm.requests.length;
    expect(await judge.score({ answer: "hello" }, { expected: "hi" })).toBe(0.75);
    const req = llm.requests[before];
    expect(req.model).toBe("judge-model");
    expect(req.authorization).toBe("Bearer sk-test");
    expect(req.body.temperature).toBe(0);
    expect(req.messages).toEqual([
      { role: "system", content: "You are strict." },
      { role: "user", content: "Grade hello against hi." },
    ]);
    expect(judge.lastReason).toBe("polite");
    expect(judge.lastError).toBeUndefined();
  });

  it("serialises action and observation as JSON by default, and applies the scale", async () => {
    const judge = new LLMJudge<A, O>({ promptTemplate: "TEN {action} {observation}", baseUrl: llm.baseUrl, scale: 10 });
    expect(await judge.score({ answer: "a" }, { expected: "b" })).toBeCloseTo(0.8);
    expect(llm.requests.at(-1)?.messages[0].content).toContain('"answer": "a"');
    const unscaled = new LLMJudge<A, O>({ promptTemplate: "TEN", baseUrl: llm.baseUrl });
    expect(await unscaled.score(act, obs)).toBe(1); // 8 clamped to [0, 1]
    const raw = new LLMJudge<A, O>({ promptTemplate: "TEN", baseUrl: llm.baseUrl, normalize: false });
    expect(await raw.score(act, obs)).toBe(8);
  });

  it("retries a 503 once", async () => {
    const judge = new LLMJudge<A, O>({ promptTemplate: "FAIL-ONCE", baseUrl: llm.baseUrl });
    expect(await judge.score(act, obs)).toBe(0.75);
    expect(llm.requests.filter((r) => r.messages[0].content === "FAIL-ONCE")).toHaveLength(2);
  });

  it("falls back to the default score when the answer has no score, or throws when asked to", async () => {
    const judge = new LLMJudge<A, O>({ promptTemplate: "GIBBERISH", baseUrl: llm.baseUrl, defaultScore: 0.1 });
    expect(await judge.score(act, obs)).toBe(0.1);
    expect(judge.lastError).toMatch(/has no score/);
    const strict = new LLMJudge<A, O>({ promptTemplate: "GIBBERISH", baseUrl: llm.baseUrl, onError: "throw" });
    await expect(strict.score(act, obs)).rejects.toThrow(/LLMJudge: the judge's answer has no score/);
  });

  it("times out cleanly: default score, error recorded, request aborted", async () => {
    const judge = new LLMJudge<A, O>({ promptTemplate: "HANG", baseUrl: llm.baseUrl, timeoutMs: 200 });
    const abortedBefore = llm.aborted;
    expect(await judge.score(act, obs)).toBe(0);
    expect(judge.lastError).toBe("the judge did not answer within 200 ms");
    await waitFor(() => llm.aborted > abortedBefore);
  });

  it("rejects when the step is cancelled", async () => {
    const judge = new LLMJudge<A, O>({ promptTemplate: "HANG", baseUrl: llm.baseUrl, timeoutMs: 60_000 });
    const controller = new AbortController();
    const pending = judge.score(act, obs, { done: false, step: 1, signal: controller.signal }) as Promise<number>;
    setTimeout(() => controller.abort(new Error("step cancelled")), 50);
    await expect(pending).rejects.toThrow("step cancelled");
  });

  it("reports an unreachable endpoint as an error, not a crash", async () => {
    const judge = new LLMJudge<A, O>({ promptTemplate: "x", baseUrl: "http://127.0.0.1:9/v1", retries: 0 });
    expect(await judge.score(act, obs)).toBe(0);
    expect(judge.lastError).toMatch(/request to http:\/\/127.0.0.1:9\/v1\/chat\/completions failed/);
  });

  it("works inside a container next to synchronous rubrics", async () => {
    const judge = new LLMJudge<A, O>({ promptTemplate: "x", baseUrl: llm.baseUrl });
    const tree = new WeightedSum({ judge, format: constant(1) }, { judge: 0.5, format: 0.5 });
    const result = (await evaluateRubric(tree, act, obs, { done: false, step: 1 })) as { reward: number };
    expect(result).toEqual({ reward: 0.875, components: { judge: 0.75, format: 1 } });
  });
});

// Type-level check: a rubric returning MaybePromise compiles in both forms.
const _typed: MaybePromise<number> = constant(1).score(act, obs);
void _typed;
