export * from "./auto/index.js";
export * from "./client/index.js";
export * from "./gateway/index.js";
export { capacityMessage, findCapacity } from "./protocol/errors.js";
export type { FieldViolation } from "./protocol/validate.js";
export * from "./server/index.js";
