import { constants } from "node:os";
import { create, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type CodeAction,
  CodeActionSchema,
  type CodeObservation,
  CodeObservationSchema,
  CodeOutputChunkSchema,
  CodeStateSchema,
  CodingResetOptionsSchema,
  ExecutionStatus,
  OutputStream,
} from "../../../gen/openenv/envs/coding/v1/coding_pb.js";
import type { EnvironmentFactory, EnvironmentSpec, ResetOptions, StepContext, StepOutcome } from "../../server/environment.js";
import { Environment } from "../../server/environment.js";
import { rubric } from "../../server/rubrics/containers.js";
import { evaluateRubric } from "../../server/rubrics/evaluate.js";
import { type MaybePromise, Rubric, type RubricContext } from "../../server/rubrics/rubric.js";
import { SandboxUnavailableError } from "../../server/sandbox/sandbox.js";
import { parseResetOptions } from "../common/reset-options.js";
import { describeExit } from "./driver-launch.js";
import { PythonSandbox, type SandboxOptions, type SandboxRun } from "./sandbox.js";

type Obs = typeof CodeObservationSchema;
type Chunk = typeof CodeOutputChunkSchema;

/** The coding environment's spec. */
export const codingSpec: EnvironmentSpec<typeof CodeActionSchema, Obs, typeof CodeStateSchema, Chunk> = {
  name: "coding",
  description: "Runs Python in a persistent, sandboxed interpreter per session, streaming its output.",
  version: "1.0.0",
  action: CodeActionSchema,
  observation: CodeObservationSchema,
  state: CodeStateSchema,
  partial: CodeOutputChunkSchema,
  rewardComponents: ["executed", "tests"],
};

/**
 * The coding environment's default reward: 0 unless the code ran without
 * error (`executed`); then the fraction of the action's tests that pass
 * (`tests`), or 1 when it has none.
 */
export class CodeRubric extends Rubric<CodeAction, CodeObservation> {
  readonly executed = this.register(
    "executed",
    rubric<CodeAction, CodeObservation>((_a, o) => (o.status === ExecutionStatus.OK ? 1 : 0)),
  );
  readonly tests = this.register(
    "tests",
    rubric<CodeAction, CodeObservation>((_a, o) => (o.tests.length === 0 ? 1 : o.testsPassed / o.tests.length)),
  );

  protected forward(action: CodeAction, observation: CodeObservation, context: RubricContext): MaybePromise<number> {
    const executed = this.executed.score(action, observation, context) as number;
    if (executed === 0 || action.tests.length === 0) return executed;
    return this.tests.score(action, observation, context);
  }
}

/** Options of {@link CodingEnvironment}: the sandbox's limits plus timeouts and the rubric. */
export interface CodingOptions extends SandboxOptions {
  /** Timeout of a step whose action sets none, seconds. Default `OPENENV_CODING_TIMEOUT_S`, then 30. */
  readonly defaultTimeoutS?: number;
  /** Largest timeout an action may ask for, seconds. Default 600. */
  readonly maxTimeoutS?: number;
  /** How long output is gathered before it is sent as one partial observation, ms. Default 20. */
  readonly streamIntervalMs?: number;
  /** The reward rubric; default {@link CodeRubric}. */
  readonly rubric?: Rubric<CodeAction, CodeObservation>;
}

/** Bytes of streamed output that are sent at once, without waiting for the interval. */
const streamFlushBytes = 64 * 1024;

/**
 * Runs Python code in a persistent interpreter per session (OpenEnv's
 * coding_env): variables and imports survive between steps, and reset
 * starts a fresh interpreter in a fresh working directory. Output streams
 * to the client as `CodeOutputChunk` partial observations while the code
 * runs. See `docs/environments.md` for the sandbox's limits.
 */
export class CodingEnvironment extends Environment<typeof CodeActionSchema, Obs, typeof CodeStateSchema, Chunk> {
  static readonly spec = codingSpec;
  private readonly rubric: Rubric<CodeAction, CodeObservation>;
  private sandbox: PythonSandbox | undefined;
  private executions = 0;
  private seed: bigint | undefined;

  constructor(private readonly options: CodingOptions = {}) {
    super();
    this.rubric = options.rubric ?? new CodeRubric();
  }

  /** A factory serving coding sessions with these options. */
  static with(options: CodingOptions): EnvironmentFactory<typeof CodeActionSchema, Obs, typeof CodeStateSchema, Chunk> {
    return { spec: codingSpec, create: () => new CodingEnvironment(options) };
  }

  async reset(options: ResetOptions): Promise<StepOutcome<Obs>> {
    const opts = parseResetOptions(CodingResetOptionsSchema, options.options);
    const old = this.sandbox;
    this.sandbox = undefined;
    await old?.close();
    this.seed = options.seed;
    const sandbox = await PythonSandbox.create(this.options, options.seed).catch((err: unknown) => {
      // No sandbox here: the operator's to fix (install bubblewrap), not a server fault.
      throw err instanceof SandboxUnavailableError ? new ConnectError(err.message, Code.FailedPrecondition) : err;
    });
    if (options.signal.aborted) {
      await sandbox.close();
      throw options.signal.reason;
    }
    this.sandbox = sandbox;
    this.executions = 0;
    this.rubric.reset();
    const metadata = { python_version: sandbox.version, working_directory: sandbox.workdir };
    if (opts.setupCode === "") {
      return { observation: { status: ExecutionStatus.OK }, metadata };
    }
    const timeoutMs = this.defaultTimeoutS() * 1000;
    const run = await sandbox.run({ ...this.limits(timeoutMs), code: opts.setupCode, tests: [], signal: options.signal });
    return { observation: this.observe(run, timeoutMs, []), metadata };
  }

  async step(action: CodeAction, ctx: StepContext<Chunk>): Promise<StepOutcome<Obs>> {
    const sandbox = this.sandbox;
    if (sandbox === undefined) throw new Error("the coding environment has no interpreter before reset");
    const timeoutMs = this.timeoutFor(action, ctx.deadline);
    const execution = ++this.executions;
    const stream = new OutputStreamer((chunk) => ctx.emit({ ...chunk, executionCount: execution }), this.options.streamIntervalMs ?? 20);
    const tests = action.tests.map((t, i) => ({ name: t.name || `test_${i}`, code: t.code }));
    let run: SandboxRun;
    try {
      run = await sandbox.run({
        ...this.limits(timeoutMs),
        code: action.code,
        tests,
        signal: ctx.signal,
        onOutput: (s, text) => stream.add(s, text),
      });
    } finally {
      stream.flush();
    }
    if (ctx.signal.aborted) throw ctx.signal.reason;
    const observation = this.observe(run, timeoutMs, tests);
    observation.executionCount = execution;
    const score = await evaluateRubric(this.rubric, action, observation, { done: false, step: this.stepCount + 1, signal: ctx.signal });
    return { observation, reward: score.reward, rewardComponents: score.components, metadata: { timeout_s: timeoutMs / 1000 } };
  }

  async getState() {
    const sandbox = this.sandbox;
    return {
      episodeId: this.episodeId,
      stepCount: this.stepCount,
      executionCount: this.executions,
      interpreterRestarts: sandbox?.restarts ?? 0,
      variables: sandbox === undefined ? [] : await sandbox.names(),
      workingDirectory: sandbox?.workdir ?? "",
      interpreterPid: sandbox?.pid ?? -1,
      sandboxUid: sandbox?.uid,
      pythonVersion: sandbox?.version ?? "",
      seed: this.seed,
    };
  }

  get state() {
    return this.getState();
  }

  override async close(): Promise<void> {
    const sandbox = this.sandbox;
    this.sandbox = undefined;
    await sandbox?.close();
  }

  private defaultTimeoutS(): number {
    const fromEnv = Number(process.env.OPENENV_CODING_TIMEOUT_S);
    return this.options.defaultTimeoutS ?? (fromEnv > 0 ? fromEnv : 30);
  }

  /** The action's timeout, capped by the server's maximum and by the step's deadline (leaving time to stop the code). */
  private timeoutFor(action: CodeAction, deadline: number): number {
    const requested = (action.timeoutS ?? this.defaultTimeoutS()) * 1000;
    const max = (this.options.maxTimeoutS ?? 600) * 1000;
    const remaining = deadline - Date.now();
    // Leave time to interrupt (and if need be kill) the code before the step's deadline, but never most of a short deadline.
    const reserve = Math.min((this.options.interruptGraceMs ?? 1000) + 1000, remaining / 2);
    return Math.max(1, Math.min(requested, max, remaining - reserve));
  }

  private limits(timeoutMs: number) {
    return {
      timeoutMs,
      interruptGraceMs: this.options.interruptGraceMs ?? 1000,
      maxOutputBytes: this.options.maxOutputBytes ?? 1024 * 1024,
    };
  }

  private observe(run: SandboxRun, timeoutMs: number, tests: readonly { name: string }[]): MessageShape<Obs> {
    const { report, restarted, sandboxReplaced } = run;
    const done = report.done;
    let status: ExecutionStatus;
    let exitCode: number;
    let errorName = done?.error_name ?? "";
    let errorMessage = done?.error_message ?? "";
    const lost = sandboxReplaced ? "earlier variables and the files of the working directory are lost" : "earlier variables are lost";
    const died = done?.died ?? (done === undefined ? (report.exit ?? { code: null, signal: null }) : null);
    if (report.timedOut && died === null) {
      status = ExecutionStatus.TIMEOUT;
      exitCode = 124;
      errorName = "TimeoutError";
      errorMessage =
        done === undefined || done.killed || restarted
          ? `execution exceeded its timeout of ${timeoutMs / 1000} s and did not stop when interrupted; the interpreter was killed and restarted (${lost})`
          : `execution exceeded its timeout of ${timeoutMs / 1000} s and was interrupted`;
    } else if (died === null && done !== undefined) {
      exitCode = done.exit_code;
      status = exitCode === 0 ? ExecutionStatus.OK : ExecutionStatus.ERROR;
    } else {
      status = ExecutionStatus.KILLED;
      const signal = died?.signal ?? null;
      exitCode = signal !== null ? 128 + (constants.signals[signal] ?? 0) : (died?.code ?? 1);
      errorName = "InterpreterDied";
      const hint =
        report.oomKills > 0
          ? ` (the session's memory limit of ${this.options.memoryLimitMb ?? 1024} MiB)`
          : signal === "SIGXCPU"
            ? ` (the CPU time limit of ${this.options.cpuTimeLimitS ?? 600} s)`
            : signal === "SIGKILL"
              ? " (a resource limit or the system's out-of-memory killer)"
              : "";
      errorMessage = `the interpreter died with ${describeExit(died ?? undefined)}${hint} and was restarted (${lost})`;
    }
    const results =
      done?.tests ?? tests.map((t) => ({ name: t.name, passed: false, message: "not run: the interpreter died", output: "" }));
    const passed = results.filter((t) => t.passed).length;
    return create(CodeObservationSchema, {
      stdout: report.stdout,
      stderr: report.stderr,
      exitCode,
      status,
      result: done?.result ?? "",
      errorName,
      errorMessage,
      durationMs: report.durationMs,
      stdoutTruncated: report.stdoutTruncated,
      stderrTruncated: report.stderrTruncated,
      interpreterRestarted: restarted,
      tests: results,
      testsPassed: passed,
      testsFailed: results.length - passed,
    });
  }
}

/** Gathers output for a short interval and emits it as chunks, merging consecutive text of one stream. */
class OutputStreamer {
  private pending: { stream: OutputStream; text: string }[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (chunk: { stream: OutputStream; text: string }) => void,
    private readonly intervalMs: number,
  ) {}

  add(stream: "stdout" | "stderr", text: string): void {
    const s = stream === "stdout" ? OutputStream.STDOUT : OutputStream.STDERR;
    const last = this.pending.at(-1);
    if (last?.stream === s) last.text += text;
    else this.pending.push({ stream: s, text });
    this.bytes += text.length;
    if (this.bytes >= streamFlushBytes) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const chunks = this.pending;
    this.pending = [];
    this.bytes = 0;
    for (const chunk of chunks) this.emit(chunk);
  }
}
