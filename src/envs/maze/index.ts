/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/maze`: a seedable grid maze; its generated messages
 * (`MazeActionSchema`, the `Direction` enum, ...), spec, class and default rubric.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/maze/v1/maze_pb.js";
export { defaultMazeRubric, MazeEnvironment, type MazeOptions, mazeSpec } from "./environment.js";
