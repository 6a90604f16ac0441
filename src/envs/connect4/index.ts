/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/connect4`: Connect Four against a seedable opponent;
 * its generated messages (`Connect4ActionSchema`, ...), spec, class and default rubric.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/connect4/v1/connect4_pb.js";
export { Connect4Environment, type Connect4Options, connect4Spec, defaultConnect4Rubric } from "./environment.js";
