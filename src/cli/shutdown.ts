import { type CliIO, ExitCode } from "./common.js";

/**
 * Resolves with the exit code once a server has been closed for a signal: SIGINT (130),
 * SIGTERM (0), or with `exitWithParent`, the parent process going away (stdin closes or
 * the parent pid changes). Install it before announcing the server: a signal sent as
 * soon as a client reads the announcement must find the handlers.
 */
export function stopOnSignals(close: () => Promise<void>, io: CliIO, options: { exitWithParent?: boolean } = {}): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (why: string, exitCode: number): void => {
      if (stopping) return;
      stopping = true;
      io.err(`openenv: shutting down (${why})\n`);
      void close().then(() => resolve(exitCode));
    };
    process.once("SIGINT", () => stop("SIGINT", ExitCode.interrupted));
    process.once("SIGTERM", () => stop("SIGTERM", ExitCode.ok));
    if (options.exitWithParent) {
      // The parent holds our stdin's other end: it closes when the parent exits or dies.
      process.stdin.on("end", () => stop("stdin closed", ExitCode.ok));
      process.stdin.on("close", () => stop("stdin closed", ExitCode.ok));
      process.stdin.on("error", () => stop("stdin error", ExitCode.ok));
      process.stdin.resume();
      const parent = process.ppid;
      const watch = setInterval(() => {
        if (process.ppid !== parent) stop("parent process exited", ExitCode.ok);
      }, 1_000);
      watch.unref();
    }
  });
}
