/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/echo`: the echo environment (OpenEnv's template env),
 * its generated messages (`EchoActionSchema`, `EchoAction`, ...), spec and class.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/echo/v1/echo_pb.js";
export { EchoEnvironment, echoSpec } from "./environment.js";
