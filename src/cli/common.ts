import { Code, ConnectError } from "@connectrpc/connect";
import { InstallError, RemoteCodeRefusedError } from "../auto/hub.js";
import { ManifestError } from "../auto/manifest.js";
import { ModuleResolutionError } from "../auto/modules.js";
import { UnknownEnvironmentError } from "../auto/names.js";
import { DockerUnavailableError } from "../auto/providers/docker.js";
import { ServerStartError } from "../auto/providers/health.js";

/**
 * Exit codes of the `openenv` CLI. Scripts may rely on them.
 *
 * | code | meaning |
 * | --- | --- |
 * | 0 | success |
 * | 1 | failure: a check failed, the environment or server returned an error, a manifest is invalid, an install was refused |
 * | 2 | usage error: unknown command or option, missing or malformed argument |
 * | 3 | unknown environment (OpenEnv's message, with suggestions) |
 * | 4 | cannot reach or start a server: nothing listening (connection refused), timeout, the port to serve on in use, no Docker engine |
 * | 130 | interrupted (Ctrl-C) |
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  unknownEnvironment: 3,
  unreachable: 4,
  interrupted: 130,
} as const;

/** A bad command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The server is not running: nothing accepts connections at the URL (exit code 4). */
export class ServerNotRunningError extends Error {
  override readonly name = "ServerNotRunningError";
}

/** The URL answers, but speaks none of OpenEnv's protocols (exit code 1). */
export class NotOpenEnvError extends Error {
  override readonly name = "NotOpenEnvError";
}

/** Where a command writes. */
export interface CliIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** The process's stdout and stderr. */
export const processIO: CliIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** A command of the CLI. */
export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Full help text (usage, options, examples). */
  readonly help: string;
  run(args: string[], io: CliIO): Promise<number>;
}

/** Parses a non-negative integer option; throws {@link UsageError} naming it. */
export function intOption(name: string, value: string | undefined, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

/** Parses a number of seconds; throws {@link UsageError} naming the option. */
export function secondsOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0)
    throw new UsageError(`--${name} must be a number of seconds >= 0, got '${value}'`);
  return n;
}

/** Parses a JSON argument; throws {@link UsageError} naming it. */
export function jsonArgument(name: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${name} is not valid JSON (${(err as Error).message}): ${text}`);
  }
}

/** The exit code an error stands for. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return ExitCode.usage;
  if (err instanceof UnknownEnvironmentError) return ExitCode.unknownEnvironment;
  if (err instanceof ServerStartError || err instanceof DockerUnavailableError || err instanceof ServerNotRunningError) {
    return ExitCode.unreachable;
  }
  if (err instanceof NotOpenEnvError) return ExitCode.failure;
  if (err instanceof ConnectError) {
    return err.code === Code.Unavailable || err.code === Code.DeadlineExceeded ? ExitCode.unreachable : ExitCode.failure;
  }
  if (
    err instanceof ManifestError ||
    err instanceof ModuleResolutionError ||
    err instanceof RemoteCodeRefusedError ||
    err instanceof InstallError
  ) {
    return ExitCode.failure;
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ECONNREFUSED" || code === "ETIMEDOUT" || code === "ENOTFOUND" || code === "EADDRINUSE" || code === "EADDRNOTAVAIL") {
    return ExitCode.unreachable;
  }
  return ExitCode.failure;
}

/** The message to print for an error. */
export function errorMessage(err: unknown): string {
  if (err instanceof ConnectError) return `${err.rawMessage} [${Code[err.code]}]`;
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.code === "EADDRINUSE")
    return `port ${e.port ?? "?"} on ${e.address ?? "?"} is in use (${e.message}): choose another --port, or stop what listens there`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Left-aligned columns. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ")).join("\n");
}
