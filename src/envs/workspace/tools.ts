import {
  ListDirArgsSchema,
  ListDirResultSchema,
  ReadFileArgsSchema,
  ReadFileResultSchema,
  RunPythonArgsSchema,
  RunPythonResultSchema,
  SubmitArgsSchema,
  SubmitResultSchema,
  WorkspaceStateSchema,
  WriteFileArgsSchema,
  WriteFileResultSchema,
} from "../../../gen/openenv/envs/workspace/v1/workspace_pb.js";
import { defineTool } from "../../server/tools/define.js";
import { toolEnvironmentSpec } from "../../server/tools/tool-environment.js";
import type { WorkspaceEnvironment } from "./environment.js";
import { READ_LIMIT } from "./sandbox-scripts.js";

const readFile = defineTool({
  name: "read_file",
  description: "Read a text file of the workspace (up to 1 MiB). Paths are relative to the workspace root.",
  input: ReadFileArgsSchema,
  output: ReadFileResultSchema,
  run: (env: WorkspaceEnvironment, args, ctx) => env.fileOp("read", ReadFileResultSchema, { path: args.path, limit: READ_LIMIT }, ctx),
});

const writeFile = defineTool({
  name: "write_file",
  description: "Create or overwrite a text file of the workspace with the given content; missing directories are created.",
  input: WriteFileArgsSchema,
  output: WriteFileResultSchema,
  run: async (env: WorkspaceEnvironment, args, ctx) => {
    const r = await env.fileOp("write", WriteFileResultSchema, { path: args.path, content: args.content }, ctx);
    if (r.$typeName !== "openenv.v1.CallToolResult") env.filesWritten++;
    return r;
  },
});

const listDir = defineTool({
  name: "list_dir",
  description: 'List a directory of the workspace ("." for its root): names, types and sizes.',
  input: ListDirArgsSchema,
  output: ListDirResultSchema,
  run: (env: WorkspaceEnvironment, args, ctx) => env.fileOp("list", ListDirResultSchema, { path: args.path || "." }, ctx),
});

const runPython = defineTool({
  name: "run_python",
  description:
    "Run Python code in the workspace's persistent interpreter (working directory: the workspace root; variables persist " +
    "between calls). Returns stdout, stderr, the exit code and the repr of a trailing expression. Output streams as progress.",
  input: RunPythonArgsSchema,
  output: RunPythonResultSchema,
  timeoutS: 630,
  run: (env: WorkspaceEnvironment, args, ctx) => env.runPython(args.code, args.timeoutS ?? 10, ctx),
});

const submit = defineTool({
  name: "submit",
  description: "Submit the workspace as your solution: the task's hidden tests grade it and the episode ends.",
  input: SubmitArgsSchema,
  output: SubmitResultSchema,
  timeoutS: 120,
  run: async (env: WorkspaceEnvironment, _args, ctx) => {
    const verdict = await env.grade(ctx.signal, env.stepCount + 1);
    ctx.reward(verdict.score, verdict.components);
    ctx.end("terminated");
    return verdict.result;
  },
});

/** The workspace's tools, for typed calls: `env.callTool(workspaceTools.readFile, { path })`. */
export const workspaceTools = { readFile, writeFile, listDir, runPython, submit } as const;

/** The workspace environment's spec. */
export const workspaceSpec = toolEnvironmentSpec({
  name: "workspace",
  description: "A file-and-shell workspace in the coding sandbox: read, write and list files, run Python, submit for grading.",
  version: "1.0.0",
  state: WorkspaceStateSchema,
  tools: [readFile, writeFile, listDir, runPython, submit],
  rewardComponents: ["tests", "efficiency"],
});
