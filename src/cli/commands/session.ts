import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { type DescMessage, fromBinary, fromJson, type JsonObject, type JsonValue, type Registry, toJson } from "@bufbuild/protobuf";
import { type Any, anyPack, durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, createClient } from "@connectrpc/connect";
import { EnvironmentService, type StepResult } from "../../../gen/openenv/v1/environment_service_pb.js";
import { schemasFromDescribe } from "../../client/describe.js";
import type { EnvClientSpec } from "../../client/env-client-options.js";
import { StepChannel } from "../../client/step-channel.js";
import { connectStepStream } from "../../client/step-streams.js";
import { createTransport, type OwnedTransport, type RpcTransportKind } from "../../client/transports.js";
import { keepSessionHeader } from "../../core/step-input.js";
import { jsonRegistry } from "../../protocol/descriptors.js";
import { type CliIO, type Command, ExitCode, intOption, jsonArgument, secondsOption, UsageError } from "../common.js";

const protocols = ["connect", "connect-json", "grpc", "grpc-web"] as const;

const commonOptions = {
  url: { type: "string" },
  protocol: { type: "string", default: "connect" },
  timeout: { type: "string" },
  session: { type: "string" },
} as const;

const commonHelp = `  --url URL          the server (required), e.g. http://127.0.0.1:8000
  --protocol P       connect (default), connect-json, grpc or grpc-web
  --timeout S        deadline of each call in seconds`;

/** A connection to a server for one CLI command, with the environment's schemas learned from Describe. */
interface Remote {
  readonly rpc: Client<typeof EnvironmentService>;
  readonly spec: EnvClientSpec;
  readonly registry: Registry;
  readonly transport: OwnedTransport;
  readonly timeoutMs: number | undefined;
}

async function openRemote(values: { url?: string; protocol?: string; timeout?: string }): Promise<Remote> {
  if (values.url === undefined) throw new UsageError("--url is required");
  if (!/^https?:\/\//.test(values.url)) throw new UsageError(`--url must be an http:// or https:// URL, got '${values.url}'`);
  const protocol = values.protocol ?? "connect";
  if (!(protocols as readonly string[]).includes(protocol)) throw new UsageError(`--protocol must be one of ${protocols.join(", ")}`);
  const timeout = secondsOption("timeout", values.timeout);
  const timeoutMs = timeout === undefined ? undefined : timeout * 1000;
  const transport = createTransport({ kind: protocol as RpcTransportKind, baseUrl: values.url.replace(/\/+$/, "") });
  try {
    const rpc = createClient(EnvironmentService, transport.transport);
    const info = await rpc.describe({}, { timeoutMs: timeoutMs ?? 30_000 });
    const spec = schemasFromDescribe(info);
    return { rpc, spec, registry: jsonRegistry([spec.action, spec.observation, spec.state, spec.partial]), transport, timeoutMs };
  } catch (err) {
    transport.close();
    throw err;
  }
}

const jsonOut = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;

function messageJson(schema: DescMessage, any: Any | undefined, registry: Registry): JsonValue {
  if (any === undefined) return null;
  return toJson(schema, fromBinary(schema, any.value), { ...jsonOut, registry });
}

function resultJson(remote: Remote, sessionId: string, r: StepResult | undefined): JsonObject {
  return {
    session_id: sessionId,
    observation: messageJson(remote.spec.observation, r?.observation, remote.registry),
    reward: r?.reward ?? null,
    done: r?.done ?? false,
    terminated: r?.terminated ?? false,
    truncated: r?.truncated ?? false,
    metadata: r?.metadata ?? {},
    reward_components: r?.rewardComponents ?? {},
    step_count: r?.stepCount ?? 0,
    episode_id: r?.episodeId ?? "",
  };
}

function parseAction(remote: Remote, text: string, where: string): Any {
  const json = jsonArgument(where, text);
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new UsageError(`${where} must be a JSON object of ${remote.spec.action.typeName} fields, got ${text}`);
  }
  try {
    return anyPack(remote.spec.action, fromJson(remote.spec.action, json as JsonValue, { registry: remote.registry }));
  } catch (err) {
    throw new UsageError(`${where} is not a valid ${remote.spec.action.typeName}: ${(err as Error).message}`);
  }
}

export const resetCommand: Command = {
  name: "reset",
  summary: "Start an episode on a server; prints the session id and first observation as JSON",
  help: `Usage: openenv reset --url URL [--seed N] [--episode-id ID] [--options JSON] [--session ID]

Opens a session (or resets --session) with a unary Reset and prints one JSON
line: session_id, observation (the environment's fields, as in OpenEnv's JSON),
reward, done, terminated, truncated, metadata, step_count, episode_id.
The session stays open for 'openenv step/state/close --session ID' until the
server's idle timeout.

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
    const remote = await openRemote(values);
    try {
      const res = await remote.rpc.reset(
        {
          sessionId: values.session ?? "",
          seed: seed === undefined ? undefined : BigInt(seed),
          episodeId: values["episode-id"],
          options: options as JsonObject | undefined,
        },
        { timeoutMs: remote.timeoutMs },
      );
      io.out(`${JSON.stringify(resultJson(remote, res.sessionId, res.result))}\n`);
      return ExitCode.ok;
    } finally {
      remote.transport.close();
    }
  },
};

export const stepCommand: Command = {
  name: "step",
  summary: "Apply actions (JSON) to a session; prints one JSON line per result",
  help: `Usage: openenv step --url URL (--session ID | --reset) [ACTION_JSON ...]

Applies each action, in order, on the session's Step stream and prints one JSON
line per result (same fields as 'openenv reset'). With no ACTION_JSON (or '-'),
reads actions from stdin, one JSON object per line. Actions use the fields of
the environment's Action message, as in OpenEnv: '{"message": "hi"}'.
The session stays open afterwards unless --close.

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
    const remote = await openRemote(values);
    const channel = new StepChannel(connectStepStream(remote.rpc, { [keepSessionHeader]: "true" }));
    let sessionId = values.session;
    const timeout = remote.timeoutMs === undefined ? undefined : durationFromMs(remote.timeoutMs);
    try {
      if (values.reset === true) {
        const reply = await channel.request({ sessionId: sessionId ?? "", command: { case: "reset", value: {} }, timeout });
        sessionId = channel.sessionId;
        if (reply.case === "result") io.out(`${JSON.stringify(resultJson(remote, sessionId ?? "", reply.value))}\n`);
      }
      let first = values.reset !== true;
      const step = async (text: string, where: string): Promise<void> => {
        const action = parseAction(remote, text, where);
        const reply = await channel.request({
          sessionId: first ? (sessionId ?? "") : "",
          command: { case: "action", value: action },
          timeout,
        });
        first = false;
        sessionId = channel.sessionId ?? sessionId;
        if (reply.case === "result") io.out(`${JSON.stringify(resultJson(remote, sessionId ?? "", reply.value))}\n`);
      };
      const inline = positionals.filter((p) => p !== "-");
      if (inline.length > 0) {
        for (const [i, text] of inline.entries()) await step(text, `action ${i + 1}`);
      } else {
        let n = 0;
        for await (const line of createInterface({ input: process.stdin })) {
          if (line.trim() === "") continue;
          n++;
          await step(line, `stdin line ${n}`);
        }
        if (n === 0 && values.reset !== true) throw new UsageError("no actions: give ACTION_JSON arguments or JSON lines on stdin");
      }
      if (values.close === true && sessionId !== undefined) {
        await remote.rpc.closeSession({ sessionId }, { timeoutMs: remote.timeoutMs });
      }
      await channel.close();
      return ExitCode.ok;
    } catch (err) {
      await channel.cancel().catch(() => {});
      throw err;
    } finally {
      remote.transport.close();
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
    const remote = await openRemote(values);
    try {
      const res = await remote.rpc.state({ sessionId: values.session }, { timeoutMs: remote.timeoutMs });
      io.out(
        `${JSON.stringify({
          session_id: res.sessionId,
          episode_id: res.episodeId,
          step_count: res.stepCount,
          state: messageJson(remote.spec.state, res.state, remote.registry),
        })}\n`,
      );
      return ExitCode.ok;
    } finally {
      remote.transport.close();
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
    const remote = await openRemote(values);
    try {
      const res = await remote.rpc.closeSession({ sessionId: values.session }, { timeoutMs: remote.timeoutMs });
      io.out(`${JSON.stringify({ closed: res.closed })}\n`);
      return ExitCode.ok;
    } finally {
      remote.transport.close();
    }
  },
};
