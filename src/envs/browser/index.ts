/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/browser`: web tasks in Chromium (driven by the optional
 * `playwright-core`); its generated messages, spec, class and task rubric.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
export {
  BrowserEnvironment,
  type BrowserFactory,
  type BrowserOptions,
  type BrowserStepState,
  BrowserTaskRubric,
  browserSpec,
} from "./environment.js";
