export {
  FunctionRubric,
  Gate,
  type RubricChildren,
  RubricDict,
  RubricList,
  rubric,
  Sequential,
  WeightedSum,
  type WeightedSumOptions,
} from "./containers.js";
export { evaluateRubric, type RubricResult } from "./evaluate.js";
export { defaultJudgeTemplate, type JudgeVerdict, LLMJudge, type LLMJudgeOptions } from "./llm-judge.js";
export { type MaybePromise, type PostHook, type PreHook, Rubric, type RubricContext, type RubricNode } from "./rubric.js";
export { type DiscountingOptions, ExponentialDiscountingTrajectoryRubric, TrajectoryRubric, type TrajectoryStep } from "./trajectory.js";
