import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { JsonObject } from "@bufbuild/protobuf";
import { type CliIO, type Command, ExitCode, intOption, jsonArgument, UsageError } from "../common.js";
import { remoteHelp as commonHelp, remoteOptions as commonOptions, noSessionsMessage, openRemote } from "../remote.js";

const line = (json: JsonObject): string => `${JSON.stringify(json)}\n`;

export const resetCommand: Command = {
  name: "reset",
  summary: "Start an episode on a server; prints the session id and first observation as JSON",
  help: `Usage: openenv reset --url URL [--seed N] [--episode-id ID] [--options JSON] [--session ID]

Opens a session (or resets --session) and prints one JSON line: session_id,
observation (the environment's fields, as in OpenEnv's JSON), reward, done,
terminated, truncated, metadata, step_count, episode_id.
The session stays open for 'openenv step/state/close --session ID' until the
server's idle timeout. An OpenEnv server without Describe (OpenEnv's Python
servers) keeps no session between commands: its session_id is null, and
'openenv step --reset' runs a whole episode in one command.

Options:
${commonHelp}
  --seed N           seed of the environment's random generator
  --episode-id ID    episode id (the server makes one otherwise)
  --options JSON     environment-specific reset options (a JSON object)
  --session ID       reset this session instead of opening one

Example:
  SESSION=$(openenv reset --url http://127.0.0.1:8000 --seed 1 | jq -r .session_id)
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...commonOptions, seed: { type: "string" }, "episode-id": { type: "string" }, options: { type: "string" } },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const seed = intOption("seed", values.seed);
    const options = values.options === undefined ? undefined : jsonArgument("--options", values.options);
    if (options !== undefined && (options === null || typeof options !== "object" || Array.isArray(options))) {
      throw new UsageError("--options must be a JSON object");
    }
    const remote = await openRemote(values, true);
    try {
      io.out(line(await remote.reset({ seed, episodeId: values["episode-id"], options: options as JsonObject | undefined })));
      if (!remote.keepsSessions) io.err(`note: ${noSessionsMessage(values.url ?? "")}\n`);
      else if (remote.transport === "websocket") io.err("note: over OpenEnv's /ws the session ended with this command's connection\n");
      return ExitCode.ok;
    } finally {
      await remote.release();
    }
  },
};

export const stepCommand: Command = {
  name: "step",
  summary: "Apply actions (JSON) to a session; prints one JSON line per result",
  help: `Usage: openenv step --url URL (--session ID | --reset) [ACTION_JSON ...]

Applies each action, in order, and prints one JSON line per result (same
fields as 'openenv reset'). With no ACTION_JSON (or '-'), reads actions from
stdin, one JSON object per line. Actions use the fields of the environment's
Action message, as in OpenEnv: '{"message": "hi"}'; enum values by name
('{"direction": "DIRECTION_UP"}') or number. Actions given as arguments are
checked before anything is sent. The session stays open afterwards unless
--close, which also closes it when an action fails.

Options:
${commonHelp}
  --session ID       the session to step (from 'openenv reset')
  --reset            open a new session with a reset first (prints its result too)
  --close            close the session after the last action

Examples:
  openenv step --url http://127.0.0.1:8000 --session "$SESSION" '{"message":"hi"}'
  printf '{"message":"a"}\\n{"message":"b"}\\n' | openenv step --url http://127.0.0.1:8000 --reset --close
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { ...commonOptions, reset: { type: "boolean" }, close: { type: "boolean" } },
    });
    if (values.session === undefined && values.reset !== true) throw new UsageError("give --session ID (from 'openenv reset') or --reset");
    const close = values.close === true;
    const remote = await openRemote(values, !close);
    let ended = false;
    try {
      // Arguments are checked before anything happens on the server.
      const inline = positionals.filter((p) => p !== "-").map((text, i) => remote.parseAction(text, `action ${i + 1}`));
      if (values.reset === true) io.out(line(await remote.reset({})));
      let n = 0;
      if (inline.length > 0) {
        for (const action of inline) io.out(line(await remote.step(action)));
      } else {
        for await (const text of createInterface({ input: process.stdin })) {
          if (text.trim() === "") continue;
          n++;
          io.out(line(await remote.step(remote.parseAction(text, `stdin line ${n}`))));
        }
        if (n === 0 && values.reset !== true) throw new UsageError("no actions: give ACTION_JSON arguments or JSON lines on stdin");
      }
      if (close) {
        ended = true;
        await remote.end();
      }
      return ExitCode.ok;
    } finally {
      // --close ends the session whatever happened, so a bad action leaks nothing.
      if (close && !ended) await remote.end().catch(() => false);
      await remote.release();
    }
  },
};

export const stateCommand: Command = {
  name: "state",
  summary: "Print a session's state as JSON",
  help: `Usage: openenv state --url URL --session ID

Prints one JSON line: session_id, episode_id, step_count and state (the
environment's State message).

Options:
${commonHelp}
  --session ID       the session (from 'openenv reset')

Example:
  openenv state --url http://127.0.0.1:8000 --session "$SESSION"
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: commonOptions });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.session === undefined) throw new UsageError("--session is required");
    const remote = await openRemote(values, true);
    try {
      io.out(line(await remote.state()));
      return ExitCode.ok;
    } finally {
      await remote.release();
    }
  },
};

export const closeCommand: Command = {
  name: "close",
  summary: "Close a session",
  help: `Usage: openenv close --url URL --session ID

Ends the session and frees its slot; prints {"closed": true|false} (false when
it was already gone).

Options:
${commonHelp}
  --session ID       the session (from 'openenv reset')
`,
  async run(args, io: CliIO) {
    const { values, positionals } = parseArgs({ args, allowPositionals: true, options: commonOptions });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if (values.session === undefined) throw new UsageError("--session is required");
    const remote = await openRemote(values, true);
    try {
      io.out(line({ closed: await remote.end() }));
      return ExitCode.ok;
    } finally {
      await remote.release();
    }
  },
};
