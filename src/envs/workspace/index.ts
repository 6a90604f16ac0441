/// <reference lib="dom" preserve="true" />
// (for connect-es's declarations: README › "TypeScript settings")
/**
 * `openenv-connect/envs/workspace`: a file-and-shell workspace over MCP tools
 * (read_file, write_file, list_dir, run_python, submit) on the sandboxed
 * interpreter, with tasks and a rubric; its generated messages, tools, spec and class.
 * Its actions and observations are the shared tool messages (`ToolActionSchema`,
 * `ToolObservationSchema`), re-exported here.
 *
 * @module
 */
export * from "../../../gen/openenv/envs/workspace/v1/workspace_pb.js";
export {
  type ToolAction,
  ToolActionSchema,
  type ToolObservation,
  ToolObservationSchema,
  type ToolProgress,
  ToolProgressSchema,
} from "../../../gen/openenv/v1/tools_pb.js";
export {
  WorkspaceEnvironment,
  type WorkspaceGrading,
  type WorkspaceOptions,
  workspaceRubric,
  workspaceSpec,
  workspaceTools,
} from "./environment.js";
export { type WorkspaceTask, workspaceTasks } from "./tasks.js";
