import { parseArgs } from "node:util";
import type { JsonObject } from "@bufbuild/protobuf";
import { ChatClient } from "../../agent/chat.js";
import { type CollectProgress, collect } from "../../agent/collect.js";
import { loadEnvironment } from "../../auto/load.js";
import { parseEnvReference } from "../../auto/names.js";
import type { EnvTransportKind } from "../../client/env-client.js";
import { serve } from "../../server/serve.js";
import { type CliIO, type Command, ExitCode, intOption, jsonArgument, processIO, UsageError } from "../common.js";
import { resolveTarget } from "./serve.js";

const TRANSPORTS: readonly string[] = ["auto", "connect", "connect-json", "grpc", "grpc-web", "websocket", "http"];

export const collectCommand: Command = {
  name: "collect",
  summary: "Collect agent episodes (LLM with tool calling) into results.jsonl",
  help: `Usage: openenv collect NAME|URL --model MODEL --llm-endpoint URL -o DIR [options]

Runs an agent loop against a tool environment for many episodes, several at
once in their own sessions: an OpenAI-compatible chat model with tool calling
drives the environment's tools, each tool call one step (rewards apply). Each
finished episode becomes one line of DIR/results.jsonl: messages in the chat
format TRL's SFTTrainer reads, tools, reward, done, tool_trace, metrics, task.
Episode ids are <prefix>-000000, <prefix>-000001, ...; a rerun resumes,
skipping the episodes already written. NAME is served in this process for the
run; URL (or --base-url) is a running server.

Options:
  --base-url URL         the environment server (OpenEnv's option; instead of NAME|URL)
  --model NAME           the model (required)
  --llm-endpoint URL     OpenAI-compatible API base, e.g. http://127.0.0.1:8080/v1
                         (default OPENAI_BASE_URL)
  --llm-port N           with an endpoint that has no port and no path: use this
                         port and /v1 (OpenEnv's convention)
  --api-key KEY          bearer token for the model (default OPENAI_API_KEY)
  -o, --output-dir DIR   where results.jsonl and metadata.json go (required)
  -n, --num-episodes N   episodes in all, including those already collected (default 10)
  --max-turns N          model turns per episode (default 8)
  --concurrency N        episodes at once, one session each (default 4)
  --temperature T        sampling temperature (default 0.2)
  --max-tokens N         completion tokens per turn (default 512)
  --system-prompt TEXT   the system message
  --prompt TEXT          the first user message (default: the task's instruction
                         from the reset's metadata)
  --seed N               episode i is reset with seed N+i (default: unseeded)
  --reset-options JSON   the environment's reset options, e.g. '{"task":"fizzbuzz"}'
  --episode-id-prefix P  prefix of episode ids (default ep)
  --no-resume            start over; the previous results.jsonl is kept as a backup
  --keep-losses          keep episodes with a negative reward (dropped by default)
  --transport KIND       auto (default), connect, grpc, grpc-web, connect-json, websocket, http
  --token TOKEN          'Authorization: Bearer TOKEN' for the environment
  --project DIR          project whose node_modules are scanned for NAME (default: .)

Examples:
  openenv collect workspace --model qwen2.5-7b --llm-endpoint http://127.0.0.1:8080/v1 -o out -n 100
  openenv collect --base-url http://127.0.0.1:8000 --model gpt-4o-mini -o out -n 20 --concurrency 8
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        "base-url": { type: "string" },
        model: { type: "string" },
        "llm-endpoint": { type: "string" },
        "llm-port": { type: "string" },
        "api-key": { type: "string" },
        "output-dir": { type: "string", short: "o" },
        "num-episodes": { type: "string", short: "n", default: "10" },
        "max-turns": { type: "string", default: "8" },
        concurrency: { type: "string", default: "4" },
        temperature: { type: "string", default: "0.2" },
        "max-tokens": { type: "string", default: "512" },
        "system-prompt": { type: "string" },
        prompt: { type: "string" },
        seed: { type: "string" },
        "reset-options": { type: "string" },
        "episode-id-prefix": { type: "string", default: "ep" },
        "no-resume": { type: "boolean", default: false },
        "keep-losses": { type: "boolean", default: false },
        transport: { type: "string", default: "auto" },
        token: { type: "string" },
        project: { type: "string" },
      },
    });
    const target = values["base-url"] ?? positionals[0];
    if (target === undefined || positionals.length > (values["base-url"] === undefined ? 1 : 0)) {
      throw new UsageError("expected one environment name or URL (or --base-url)");
    }
    const model = values.model;
    if (model === undefined || model === "") throw new UsageError("--model is required");
    const outputDir = values["output-dir"];
    if (outputDir === undefined) throw new UsageError("--output-dir is required");
    const llm = llmBaseUrl(values["llm-endpoint"] ?? process.env.OPENAI_BASE_URL, intOption("llm-port", values["llm-port"], 1, 65535));
    const temperature = Number(values.temperature);
    if (!Number.isFinite(temperature) || temperature < 0)
      throw new UsageError(`--temperature must be a number >= 0, got '${values.temperature}'`);
    const transport = values.transport as string;
    if (!TRANSPORTS.includes(transport)) throw new UsageError(`invalid --transport '${transport}': ${TRANSPORTS.join(", ")}`);
    const resetOptions = values["reset-options"] === undefined ? undefined : jsonArgument("--reset-options", values["reset-options"]);
    if (resetOptions !== undefined && (typeof resetOptions !== "object" || resetOptions === null || Array.isArray(resetOptions))) {
      throw new UsageError("--reset-options must be a JSON object");
    }
    const concurrency = intOption("concurrency", values.concurrency, 1, 1024) as number;
    const chat = new ChatClient({ baseUrl: llm, model, apiKey: values["api-key"] ?? process.env.OPENAI_API_KEY });

    // A name is served here for the run, with room for every concurrent session.
    let baseUrl = target;
    let local: Awaited<ReturnType<typeof serve>> | undefined;
    if (parseEnvReference(target).kind !== "url") {
      const info = await resolveTarget(target, { project: values.project }, io);
      local = await serve((await loadEnvironment(info)).source, { port: 0, maxSessions: Math.max(64, concurrency * 2) });
      baseUrl = local.url;
      io.err(`openenv: serving ${info.envKey} on ${baseUrl} for the run\n`);
    }
    const abort = new AbortController();
    const onSigint = (): void => {
      io.err("\nopenenv: interrupted; finishing (rerun to resume)\n");
      abort.abort(new Error("interrupted"));
    };
    process.once("SIGINT", onSigint);
    const bar = progressPrinter(io);
    try {
      io.err(`openenv: collecting ${values["num-episodes"]} episodes from ${baseUrl} with ${model} at ${llm} into ${outputDir}\n`);
      const summary = await collect({
        baseUrl,
        outputDir,
        chat,
        episodes: intOption("num-episodes", values["num-episodes"], 0) as number,
        maxTurns: intOption("max-turns", values["max-turns"], 1),
        concurrency,
        temperature,
        maxTokens: intOption("max-tokens", values["max-tokens"], 1),
        systemPrompt: values["system-prompt"],
        prompt: values.prompt,
        seed: intOption("seed", values.seed),
        resetOptions: resetOptions as JsonObject | undefined,
        episodeIdPrefix: values["episode-id-prefix"],
        resume: !values["no-resume"],
        keepLosses: values["keep-losses"],
        transport: transport as EnvTransportKind,
        headers: values.token === undefined ? undefined : { authorization: `Bearer ${values.token}` },
        metadata: { env: target },
        onProgress: bar,
        signal: abort.signal,
      });
      bar(summary, true);
      io.out(
        `collected=${summary.collected} skipped=${summary.skipped} dropped=${summary.dropped} failed=${summary.failed} ` +
          `avg_reward=${summary.avgReward.toFixed(3)} success_rate=${Math.round(summary.successRate * 100)}% results=${summary.resultsPath}\n`,
      );
      for (const f of summary.failures.slice(0, 5)) io.err(`openenv: ${f.episodeId} failed: ${f.error}\n`);
      if (summary.interrupted) return ExitCode.interrupted;
      return summary.failed > 0 && summary.collected === 0 ? ExitCode.failure : ExitCode.ok;
    } finally {
      process.removeListener("SIGINT", onSigint);
      await local?.close();
    }
  },
};

/** The model API's base URL: as given, or OpenEnv's `{endpoint}:{port}/v1` when a port is given for a bare host. */
export function llmBaseUrl(endpoint: string | undefined, port: number | undefined): string {
  if (endpoint === undefined || endpoint === "") throw new UsageError("--llm-endpoint is required (or set OPENAI_BASE_URL)");
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new UsageError(`--llm-endpoint is not a URL: ${endpoint}`);
  }
  if (port !== undefined && url.port === "" && (url.pathname === "/" || url.pathname === "")) {
    url.port = String(port);
    url.pathname = "/v1";
  }
  return url.toString().replace(/\/+$/, "");
}

/** A progress bar on a terminal (redrawn in place); one line per episode otherwise. */
function progressPrinter(io: CliIO): (p: CollectProgress, final?: boolean) => void {
  const tty = io === processIO && process.stderr.isTTY === true;
  return (p, final = false) => {
    const width = 24;
    const filled = p.total === 0 ? width : Math.round((p.finished / p.total) * width);
    const line =
      `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.finished}/${p.total} collected=${p.collected} ` +
      `failed=${p.failed} avg_reward=${p.avgReward.toFixed(2)} ${(p.elapsedMs / 1000).toFixed(1)}s`;
    if (tty) io.err(`\r${line}${final ? "\n" : ""}`);
    else if (!final) io.err(`${line}${p.last === undefined ? "" : `  ${p.last}`}\n`);
  };
}
