import { randomBytes } from "node:crypto";
import { type DescMessage, fromJson, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ListDirArgsSchema,
  ListDirResultSchema,
  ReadFileArgsSchema,
  ReadFileResultSchema,
  RunPythonArgsSchema,
  RunPythonResultSchema,
  SubmitArgsSchema,
  SubmitResultSchema,
  WorkspaceResetOptionsSchema,
  WorkspaceStateSchema,
  WriteFileArgsSchema,
  WriteFileResultSchema,
} from "../../../gen/openenv/envs/workspace/v1/workspace_pb.js";
import type { ToolObservationSchema } from "../../../gen/openenv/v1/tools_pb.js";
import type { EnvironmentFactory, ResetOptions, StepOutcome } from "../../server/environment.js";
import { rubric, WeightedSum } from "../../server/rubrics/containers.js";
import { evaluateRubric } from "../../server/rubrics/evaluate.js";
import type { Rubric } from "../../server/rubrics/rubric.js";
import { defineTool, type ToolContext, ToolError } from "../../server/tools/define.js";
import { textContent, toolResult } from "../../server/tools/result.js";
import { McpEnvironment, toolEnvironmentSpec } from "../../server/tools/tool-environment.js";
import { describeExit } from "../coding/interpreter.js";
import { PythonSandbox, type SandboxOptions } from "../coding/sandbox.js";
import { SeededRandom } from "../common/random.js";
import { parseResetOptions } from "../common/reset-options.js";
import { type WorkspaceTask, workspaceTasks } from "./tasks.js";

type Obs = typeof ToolObservationSchema;

/** What the rubric scores when the episode ends: the hidden tests' verdict and the steps it took. */
export interface WorkspaceGrading {
  readonly passed: number;
  readonly total: number;
  readonly steps: number;
  readonly maxSteps: number;
}

/**
 * The workspace's default reward: 0.9 × the fraction of hidden tests that
 * pass (`tests`) + 0.1 × the share of the step budget left when every test
 * passes (`efficiency`).
 */
export function workspaceRubric(): Rubric<WorkspaceGrading, WorkspaceGrading> {
  return new WeightedSum<WorkspaceGrading, WorkspaceGrading>(
    {
      tests: rubric((g) => (g.total === 0 ? 0 : g.passed / g.total)),
      efficiency: rubric((g) => (g.total > 0 && g.passed === g.total ? Math.max(0, 1 - g.steps / g.maxSteps) : 0)),
    },
    { tests: 0.9, efficiency: 0.1 },
  );
}

/** Options of {@link WorkspaceEnvironment}. */
export interface WorkspaceOptions {
  /** The sandbox's limits (the coding environment's sandbox). */
  readonly sandbox?: SandboxOptions;
  /** Steps before an episode is truncated and graded, unless a reset asks otherwise. Default 30. */
  readonly maxSteps?: number;
  /** The tasks to pose. Default {@link workspaceTasks}. */
  readonly tasks?: readonly WorkspaceTask[];
  /** The reward rubric. Default {@link workspaceRubric}. */
  readonly rubric?: Rubric<WorkspaceGrading, WorkspaceGrading>;
}

/** Bytes of a file read_file returns. */
const READ_LIMIT = 1024 * 1024;
/** Output of run_python kept per stream. */
const RUN_OUTPUT_LIMIT = 256 * 1024;

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

interface Verdict {
  readonly score: number;
  readonly components: Record<string, number>;
  readonly result: MessageInitShape<typeof SubmitResultSchema>;
}

/**
 * A realistic tool environment for agent training: a programming task in a
 * workspace directory, solved with the tools `read_file`, `write_file`,
 * `list_dir`, `run_python` (the coding environment's sandboxed persistent
 * interpreter, output streamed as progress) and `submit`, which runs the
 * task's hidden tests and ends the episode with the rubric's reward. An
 * episode that reaches its step limit is truncated and graded as it stands.
 *
 * Every file operation runs inside the sandbox, as the sandbox's user, so a
 * symbolic link planted by the agent cannot make the server read or write
 * outside the workspace.
 */
export class WorkspaceEnvironment extends McpEnvironment<typeof WorkspaceStateSchema> {
  static readonly spec = workspaceSpec;
  /** Files written with write_file this episode. */
  filesWritten = 0;
  private pythonRuns = 0;
  private sandbox: PythonSandbox | undefined;
  private task: WorkspaceTask | undefined;
  private maxSteps = 30;
  private submitted = false;
  private score = 0;
  private readonly rubric: Rubric<WorkspaceGrading, WorkspaceGrading>;

  constructor(private readonly options: WorkspaceOptions = {}) {
    super();
    this.rubric = options.rubric ?? workspaceRubric();
  }

  /** A factory serving workspace sessions with these options. */
  static with(
    options: WorkspaceOptions,
  ): EnvironmentFactory<
    typeof workspaceSpec.action,
    typeof workspaceSpec.observation,
    typeof workspaceSpec.state,
    NonNullable<typeof workspaceSpec.partial>
  > {
    return { spec: workspaceSpec, create: () => new WorkspaceEnvironment(options) };
  }

  override async reset(options: ResetOptions): Promise<StepOutcome<Obs>> {
    const opts = parseResetOptions(WorkspaceResetOptionsSchema, options.options);
    const tasks = this.options.tasks ?? workspaceTasks;
    let task: WorkspaceTask | undefined;
    if (opts.task !== "") {
      task = tasks.find((t) => t.id === opts.task);
      if (task === undefined) {
        throw new ConnectError(`unknown task '${opts.task}'; tasks: ${tasks.map((t) => t.id).join(", ")}`, Code.InvalidArgument);
      }
    } else {
      const random = options.seed === undefined ? Math.random() : new SeededRandom(options.seed).next();
      task = tasks[Math.floor(random * tasks.length)] as WorkspaceTask;
    }
    const old = this.sandbox;
    this.sandbox = undefined;
    await old?.close();
    const sandbox = await PythonSandbox.create(this.options.sandbox ?? {}, options.seed);
    this.sandbox = sandbox;
    this.task = task;
    this.maxSteps = opts.maxSteps || this.options.maxSteps || 30;
    this.filesWritten = 0;
    this.pythonRuns = 0;
    this.submitted = false;
    this.score = 0;
    this.rubric.reset();
    for (const [path, content] of Object.entries(task.files)) {
      const r = await this.fileOp("write", WriteFileResultSchema, { path, content }, { signal: options.signal });
      if (r.$typeName === "openenv.v1.CallToolResult") throw new Error(`could not set up the workspace: ${r.content[0]?.text ?? ""}`);
    }
    return {
      observation: {},
      metadata: {
        task: task.id,
        instruction: task.instruction,
        files: Object.keys(task.files),
        tools: this.listTools().map((t) => t.name),
        max_steps: this.maxSteps,
      },
    };
  }

  get state() {
    return {
      episodeId: this.episodeId,
      stepCount: this.stepCount,
      task: this.task?.id ?? "",
      instruction: this.task?.instruction ?? "",
      pythonRuns: this.pythonRuns,
      filesWritten: this.filesWritten,
      submitted: this.submitted,
      score: this.score,
      workingDirectory: this.sandbox?.workdir ?? "",
    };
  }

  override async close(): Promise<void> {
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    await sandbox?.close();
  }

  /** Truncates and grades an episode that reaches its step limit. */
  protected override async finishStep(outcome: StepOutcome<Obs>): Promise<StepOutcome<Obs>> {
    const step = this.stepCount + 1;
    if (outcome.terminated || step < this.maxSteps || this.sandbox === undefined) return outcome;
    const verdict = await this.grade(undefined, step);
    return {
      ...outcome,
      reward: verdict.score,
      rewardComponents: verdict.components,
      truncated: true,
      metadata: { ...outcome.metadata, truncated_at: step, tests_passed: verdict.result.passed ?? 0 },
    };
  }

  /** A file operation, run by the sandbox's interpreter (as the sandbox's user, inside the workspace). */
  async fileOp<D extends DescMessage>(op: keyof typeof FILE_OPS, output: D, args: JsonObject, ctx: Pick<ToolContext, "signal">) {
    const out = await this.inSandbox(FILE_OPS[op], args, ctx.signal);
    if (typeof out.error === "string") {
      return toolResult({ content: [textContent(`${out.error}: ${String(out.message)}`)], isError: true });
    }
    return fromJson(output, out as JsonObject);
  }

  /** Runs code in the interpreter, streaming its output as progress. */
  async runPython(code: string, timeoutS: number, ctx: ToolContext): Promise<MessageInitShape<typeof RunPythonResultSchema>> {
    const sandbox = this.requireSandbox();
    this.pythonRuns++;
    let chunks = 0;
    const { report } = await sandbox.run({
      code,
      tests: [],
      timeoutMs: timeoutS * 1000,
      interruptGraceMs: 1000,
      maxOutputBytes: RUN_OUTPUT_LIMIT,
      signal: ctx.signal,
      onOutput: (_stream, text) => ctx.progress(++chunks, undefined, text),
    });
    const done = report.done;
    if (report.timedOut) {
      return {
        stdout: report.stdout,
        stderr: report.stderr,
        exitCode: 124,
        errorName: "TimeoutError",
        errorMessage: `timed out after ${timeoutS} s`,
      };
    }
    if (done === undefined) {
      return {
        stdout: report.stdout,
        stderr: report.stderr,
        exitCode: report.exit?.code ?? 1,
        errorName: "InterpreterDied",
        errorMessage: `the interpreter died with ${describeExit(report.exit)} and was restarted (earlier variables are lost)`,
      };
    }
    return {
      stdout: report.stdout,
      stderr: report.stderr,
      exitCode: done.exit_code,
      result: done.result,
      errorName: done.error_name,
      errorMessage: done.error_message,
    };
  }

  /** Runs the task's hidden tests on the workspace and scores them with the rubric. */
  async grade(signal: AbortSignal | undefined, steps: number): Promise<Verdict> {
    const sandbox = this.requireSandbox();
    const task = this.task as WorkspaceTask;
    // Fresh imports of the workspace's modules, from the workspace root, whatever the agent did to the interpreter's path.
    const setup = `(lambda _ns: exec(${JSON.stringify(GRADE_SETUP)}, _ns))({"MODULES": ${JSON.stringify(task.modules)}, "ROOT": ${JSON.stringify(sandbox.workdir)}})`;
    const { report } = await sandbox.run({
      code: setup,
      tests: task.tests.map((t) => ({ name: t.name, code: t.code })),
      timeoutMs: 60_000,
      interruptGraceMs: 1000,
      maxOutputBytes: RUN_OUTPUT_LIMIT,
      signal,
    });
    const results = report.done?.tests ?? [];
    const passed = results.filter((t) => t.passed).length;
    const total = task.tests.length;
    const scored = await evaluateRubric(
      this.rubric,
      { passed, total, steps, maxSteps: this.maxSteps },
      { passed, total, steps, maxSteps: this.maxSteps },
      {
        done: true,
        step: steps,
      },
    );
    this.submitted = true;
    this.score = scored.reward;
    const report_ = task.tests.map((t) => {
      const r = results.find((x) => x.name === t.name);
      return r?.passed ? `${t.name}: PASS` : `${t.name}: FAIL ${r?.message ?? "not run"}`;
    });
    return { score: scored.reward, components: scored.components, result: { passed, total, score: scored.reward, report: report_ } };
  }

  private requireSandbox(): PythonSandbox {
    if (this.sandbox === undefined) throw new ToolError("execution_error", "the workspace has no sandbox: reset first");
    return this.sandbox;
  }

  /**
   * Runs one of the file operations below in the interpreter, in a namespace of
   * its own (the agent's variables are untouched), and reads its JSON answer
   * from standard output between two copies of a random token.
   */
  private async inSandbox(source: string, args: JsonObject, signal: AbortSignal | undefined): Promise<Record<string, JsonValue>> {
    const sandbox = this.requireSandbox();
    const token = randomBytes(12).toString("hex");
    const payload = JSON.stringify({ ...args, root: sandbox.workdir });
    const code = `(lambda _ns: exec(${JSON.stringify(PRELUDE + source + POSTLUDE)}, _ns))({"ARGS": __import__("json").loads(${JSON.stringify(payload)}), "TOKEN": ${JSON.stringify(token)}})`;
    const { report } = await sandbox.run({
      code,
      tests: [],
      timeoutMs: 20_000,
      interruptGraceMs: 1000,
      maxOutputBytes: 4 * READ_LIMIT,
      signal,
    });
    const start = report.stdout.indexOf(token);
    const end = report.stdout.lastIndexOf(token);
    if (start < 0 || end <= start) {
      throw new ToolError(
        "execution_error",
        `the workspace's interpreter did not answer (${report.timedOut ? "timed out" : report.stderr.slice(-500) || "no output"})`,
      );
    }
    return JSON.parse(report.stdout.slice(start + token.length, end)) as Record<string, JsonValue>;
  }
}

// Python run inside the sandbox. ARGS and TOKEN come from the namespace; answers go to stdout between tokens.
const PRELUDE = `import os, sys, json
root = ARGS["root"] if os.path.isdir(ARGS["root"]) else os.environ.get("HOME", ".")
root = os.path.realpath(root)
def resolve(p):
    full = os.path.realpath(os.path.join(root, p))
    if full != root and not full.startswith(root + os.sep):
        raise PermissionError(f"{p!r} is outside the workspace")
    return full
def reply(obj):
    sys.stdout.write(TOKEN + json.dumps(obj) + TOKEN)
    sys.stdout.flush()
try:
`;
const POSTLUDE = `
except Exception as e:
    reply({"error": type(e).__name__, "message": str(e)})
`;
const FILE_OPS = {
  read: `    full = resolve(ARGS["path"])
    size = os.path.getsize(full)
    with open(full, "rb") as f:
        data = f.read(ARGS["limit"] + 1)
    reply({"path": ARGS["path"], "content": data[:ARGS["limit"]].decode("utf-8", "replace"), "size": size, "truncated": len(data) > ARGS["limit"]})`,
  write: `    full = resolve(ARGS["path"])
    if os.path.isdir(full):
        raise IsADirectoryError(f"{ARGS['path']!r} is a directory")
    os.makedirs(os.path.dirname(full), exist_ok=True)
    data = ARGS["content"].encode("utf-8", "surrogatepass")
    with open(full, "wb") as f:
        f.write(data)
    reply({"path": ARGS["path"], "bytes_written": len(data)})`,
  list: `    full = resolve(ARGS["path"])
    entries = []
    for e in sorted(os.scandir(full), key=lambda e: e.name):
        kind = "link" if e.is_symlink() else "dir" if e.is_dir() else "file" if e.is_file() else "other"
        entries.append({"name": e.name, "type": kind, "size": e.stat(follow_symlinks=False).st_size if kind == "file" else 0})
    reply({"path": ARGS["path"], "entries": entries})`,
} as const;
const GRADE_SETUP = `import os, sys
os.chdir(ROOT if os.path.isdir(ROOT) else os.environ.get("HOME", "."))
sys.path.insert(0, os.getcwd())
for m in MODULES:
    sys.modules.pop(m, None)
`;
