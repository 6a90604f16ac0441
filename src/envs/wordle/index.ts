/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/wordle`: Wordle with a seedable secret; its generated
 * messages (`WordleActionSchema`, ...), spec, class and default rubric.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/wordle/v1/wordle_pb.js";
export { defaultWordleRubric, WordleEnvironment, type WordleOptions, wordleSpec } from "./environment.js";
