/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/coding`: Python in a persistent interpreter per session;
 * its generated messages (`CodeActionSchema`, `CodeObservation`, ...), spec, class and rubric.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/coding/v1/coding_pb.js";
export { CodeRubric, CodingEnvironment, type CodingOptions, codingSpec } from "./environment.js";
export type { SandboxOptions } from "./sandbox.js";
