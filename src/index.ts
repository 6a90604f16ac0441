/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * openenv-connect: OpenEnv environments over a protobuf contract.
 *
 * The user API: write and serve environments (`openenv-connect/server`),
 * drive them (`openenv-connect/client`), use them by name
 * (`openenv-connect/auto`). Each bundled environment has its own entry point
 * with its generated messages, spec and class (`openenv-connect/envs/echo`, ...).
 * Building blocks for other libraries and tools are in `openenv-connect/internal`.
 *
 * @module
 */

// Errors are ConnectErrors with gRPC codes on every transport; re-exported so
// that catching them needs no import from a transitive dependency.
export { Code, ConnectError } from "@connectrpc/connect";
export * from "./agent/index.js";
export * from "./auto/index.js";
export * from "./client/index.js";
export * from "./gateway/index.js";
export * from "./server/index.js";
