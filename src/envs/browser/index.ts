/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/browser`: web tasks in Chromium (driven by the optional
 * `playwright-core`); its generated messages, spec, class and task rubric.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/browser/v1/browser_pb.js";
export { BrowserEnvironment, type BrowserFactory, browserSpec } from "./environment.js";
export type { BrowserOptions } from "./options.js";
export { type BrowserStepState, BrowserTaskRubric } from "./rubric.js";
