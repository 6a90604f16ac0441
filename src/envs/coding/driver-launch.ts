import type { ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";

/** Resource limits the interpreter applies to itself (and what it starts) with setrlimit. */
export interface InterpreterLimits {
  /** RLIMIT_AS: address space of each process, bytes. */
  readonly memoryBytes?: number;
  /** RLIMIT_CPU: CPU seconds of each process over its lifetime. */
  readonly cpuSeconds?: number;
  /** RLIMIT_NPROC: processes (threads) of the interpreter's user; unset where a control group counts them. */
  readonly maxProcesses?: number;
  /** RLIMIT_FSIZE: largest file a process may write, bytes. */
  readonly maxFileBytes?: number;
  /** RLIMIT_NOFILE: open file descriptors per process. */
  readonly maxOpenFiles?: number;
}

/** The driver's supervisor process, started by a launcher (in a sandbox, or as a plain process). */
export interface DriverProcess {
  /** stdio: 1 and 2 the output pipes, 3 commands, 4 events (5, unsandboxed, the watchdog's pipe). */
  readonly child: ChildProcess;
  /** Host pid to report (the sandbox's outer process, or the supervisor). */
  readonly pid: number;
  /** Kills everything the driver started, and the driver. */
  kill(): Promise<void>;
  /** Processes the memory limit's OOM killer took, where a control group counts them. */
  oomKills(): number;
}

let driverSource: string | undefined;

/**
 * The `-c` program: reads the driver's source as the first frame on fd 3 and
 * runs it as the supervisor, so the process table shows a short command line.
 */
const bootstrap = [
  "import os, struct",
  "def _read(n):",
  "    b = b''",
  "    while len(b) < n:",
  "        c = os.read(3, n - len(b))",
  "        if not c: os._exit(2)",
  "        b += c",
  "    return b",
  "_src = _read(struct.unpack('>I', _read(4))[0])",
  "exec(compile(_src, 'openenv-coding-driver', 'exec'), {'__name__': 'openenv_coding_driver', 'ROLE': 'supervisor', 'SOURCE': _src})",
].join("\n");

/** The argv of the supervisor, after the interpreter's path. */
export const driverArgs = ["-u", "-c", bootstrap, "openenv-coding-supervisor"];

/** The driver script's source: next to this module, or under src/ when running from a build. */
export function loadDriver(): string {
  if (driverSource !== undefined) return driverSource;
  const candidates = [new URL("./driver.py", import.meta.url), new URL("../../../../src/envs/coding/driver.py", import.meta.url)];
  for (const url of candidates) {
    try {
      driverSource = fs.readFileSync(fileURLToPath(url), "utf8");
      return driverSource;
    } catch {
      // try the next location
    }
  }
  throw new Error("cannot find the coding environment's driver.py");
}

/** "exit code 3", "signal SIGKILL". */
export function describeExit(info: { code: number | null; signal: NodeJS.Signals | null } | undefined): string {
  if (info === undefined) return "still running";
  return info.signal !== null ? `signal ${info.signal}` : `exit code ${info.code}`;
}
