export { type CgroupController, type CgroupLimits, type CgroupSupport, cgroupSupport } from "./cgroup.js";
export { encodeFrame, FrameError, FrameReader } from "./frames.js";
export {
  configureSandboxes,
  SANDBOX_WORKDIR,
  Sandbox,
  type SandboxOptions,
  type SandboxReport,
  SandboxUnavailableError,
  sandboxReport,
  unsandboxedAllowed,
} from "./sandbox.js";
