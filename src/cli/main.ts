import { packageVersion } from "../auto/modules.js";
import { buildCommand } from "./commands/build.js";
import { collectCommand } from "./commands/collect.js";
import { gatewayCommand } from "./commands/gateway.js";
import { infoCommand } from "./commands/info.js";
import { initCommand } from "./commands/init.js";
import { installCommand } from "./commands/install.js";
import { listCommand } from "./commands/list.js";
import { protoCommand } from "./commands/proto.js";
import { serveCommand } from "./commands/serve.js";
import { closeCommand, resetCommand, stateCommand, stepCommand } from "./commands/session.js";
import { validateCommand } from "./commands/validate.js";
import { type CliIO, type Command, ExitCode, errorMessage, exitCodeOf, processIO, UsageError } from "./common.js";

const commands: readonly Command[] = [
  listCommand,
  infoCommand,
  serveCommand,
  initCommand,
  buildCommand,
  validateCommand,
  installCommand,
  protoCommand,
  gatewayCommand,
  resetCommand,
  stepCommand,
  stateCommand,
  closeCommand,
  collectCommand,
];

const exitCodes = `Exit codes:
  0    success
  1    failure (a check failed, the server or environment returned an error,
       an invalid manifest, a refused install)
  2    usage error (unknown command or option, bad argument)
  3    unknown environment
  4    cannot reach or start a server (nothing listening, timeout, port in use,
       no Docker engine)
  130  interrupted (Ctrl-C)`;

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `openenv ${packageVersion()}: run, inspect and drive OpenEnv environments

Usage: openenv <command> [options]
       openenv help <command>     (or openenv <command> --help)
       openenv --version          print the version

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

${exitCodes}
`;
}

/** Runs the CLI with the given arguments; resolves to the process exit code. */
export async function run(argv: string[], io: CliIO = processIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(usage());
    return ExitCode.usage;
  }
  if (name === "--version" || name === "-V") {
    io.out(`${packageVersion()}\n`);
    return ExitCode.ok;
  }
  if (name === "help" || name === "--help" || name === "-h") {
    const topic = rest[0];
    if (topic === undefined) {
      io.out(usage());
      return ExitCode.ok;
    }
    const command = commands.find((c) => c.name === topic);
    if (command === undefined) {
      io.err(`openenv: unknown command '${topic}'\n\n${usage()}`);
      return ExitCode.usage;
    }
    io.out(command.help);
    return ExitCode.ok;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`openenv: unknown command '${name}'\n\n${usage()}`);
    return ExitCode.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(command.help);
    return ExitCode.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    const code = isParseArgsError(err) ? ExitCode.usage : exitCodeOf(err);
    if (code === ExitCode.usage) {
      io.err(`openenv ${command.name}: ${(err as Error).message}\nRun 'openenv help ${command.name}' for usage.\n`);
    } else {
      io.err(`Error: ${errorMessage(err)}\n`);
    }
    return code;
  }
}

function isParseArgsError(err: unknown): boolean {
  if (err instanceof UsageError) return true;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS");
}
