import * as fs from "node:fs/promises";
import * as path from "node:path";
import type { DescMessage, JsonObject } from "@bufbuild/protobuf";
import type { HeaderValues } from "../client/backend.js";
import { EnvClient, type EnvTransportKind } from "../client/env-client.js";
import { type AgentEpisode, type AgentEpisodeOptions, runAgentEpisode } from "./agent-loop.js";

/** The results file's name in the output directory (OpenEnv's). */
export const RESULTS_FILE = "results.jsonl";
/** The run's settings, next to the results. */
export const METADATA_FILE = "metadata.json";

/** One line of results.jsonl. */
export interface EpisodeRecord {
  readonly episode_id: string;
  /** The transcript in TRL's chat format (SFTTrainer's `messages` column). */
  readonly messages: AgentEpisode["messages"];
  /** The tools offered, as function declarations (SFTTrainer's `tools` column). */
  readonly tools: AgentEpisode["tools"];
  readonly reward: number;
  readonly done: boolean;
  readonly terminated: boolean;
  readonly truncated: boolean;
  readonly tool_trace: AgentEpisode["toolTrace"];
  readonly metrics: AgentEpisode["metrics"];
  /** The reset's metadata: the task the episode posed. */
  readonly task: JsonObject;
}

/** Where a collection stands. */
export interface CollectProgress {
  readonly total: number;
  /** Episodes finished in any way (collected, skipped, dropped, failed). */
  readonly finished: number;
  readonly collected: number;
  readonly skipped: number;
  readonly dropped: number;
  readonly failed: number;
  /** Mean reward of the episodes collected in this run. */
  readonly avgReward: number;
  readonly elapsedMs: number;
  /** The latest event, e.g. `ep-000003 failed: ...`. */
  readonly last?: string;
}

/** Options of {@link collect}. */
export interface CollectOptions
  extends Pick<AgentEpisodeOptions, "chat" | "maxTurns" | "systemPrompt" | "temperature" | "maxTokens" | "prompt"> {
  /** The environment server (a tool environment). */
  readonly baseUrl: string;
  /** Directory of results.jsonl and metadata.json; created when missing. */
  readonly outputDir: string;
  /** Episodes to run, including those already collected. */
  readonly episodes: number;
  /** Episodes run at once, each in its own session. Default 4. */
  readonly concurrency?: number;
  /** Episode ids are `<prefix>-000000`, `<prefix>-000001`, ... Default `ep`. */
  readonly episodeIdPrefix?: string;
  /** Skip episodes already in results.jsonl (default true); false starts over (the old file is kept as a backup). */
  readonly resume?: boolean;
  /** Keep episodes with a negative reward (OpenEnv drops them unless `--keep-losses`). Default false. */
  readonly keepLosses?: boolean;
  /** Episode i is reset with seed `seed + i`; unseeded when unset. */
  readonly seed?: number;
  /** The environment's reset options for every episode. */
  readonly resetOptions?: JsonObject;
  /** How the clients reach the environment. Default `auto`. */
  readonly transport?: EnvTransportKind;
  /** Headers for the environment (e.g. authorization). */
  readonly headers?: HeaderValues;
  /** Extra settings recorded in metadata.json. */
  readonly metadata?: JsonObject;
  /** Called after every episode. */
  readonly onProgress?: (progress: CollectProgress) => void;
  /** Stops the run: no new episode starts, running ones are abandoned (not written). */
  readonly signal?: AbortSignal;
}

/** What a collection did. */
export interface CollectSummary extends CollectProgress {
  readonly resultsPath: string;
  /** Episodes that failed, with why. */
  readonly failures: readonly { readonly episodeId: string; readonly error: string }[];
  /** Success rate of the episodes collected in this run: the share with a positive reward. */
  readonly successRate: number;
  /** The run was stopped before every episode finished. */
  readonly interrupted: boolean;
}

/**
 * `openenv collect`: runs an agent loop (an OpenAI-compatible model with tool
 * calling) for many episodes of a tool environment, several at once in their
 * own sessions, and appends each finished episode as one line of
 * `results.jsonl` (TRL's chat format, reward, done, tool trace, metrics).
 * Episode ids are fixed by their index, so a rerun after an interruption skips
 * what is already written and runs the rest.
 */
export async function collect(options: CollectOptions): Promise<CollectSummary> {
  const started = Date.now();
  const prefix = options.episodeIdPrefix ?? "ep";
  const ids = Array.from({ length: options.episodes }, (_, i) => `${prefix}-${String(i).padStart(6, "0")}`);
  await fs.mkdir(options.outputDir, { recursive: true });
  const resultsPath = path.join(options.outputDir, RESULTS_FILE);
  const done = options.resume === false ? await startOver(resultsPath) : await collectedIds(resultsPath);
  await fs.writeFile(
    path.join(options.outputDir, METADATA_FILE),
    `${JSON.stringify(
      {
        base_url: options.baseUrl,
        model: options.chat.model,
        llm_endpoint: options.chat.baseUrl,
        episodes_requested: options.episodes,
        max_turns: options.maxTurns ?? 8,
        concurrency: options.concurrency ?? 4,
        temperature: options.temperature ?? 0,
        keep_losses: options.keepLosses ?? false,
        seed: options.seed ?? null,
        reset_options: options.resetOptions ?? {},
        started_at: new Date(started).toISOString(),
        ...options.metadata,
      },
      null,
      2,
    )}\n`,
  );
  const counts = { finished: 0, collected: 0, skipped: 0, dropped: 0, failed: 0, rewardSum: 0, positive: 0 };
  const failures: { episodeId: string; error: string }[] = [];
  let last: string | undefined;
  const report = (): CollectProgress => ({
    total: ids.length,
    finished: counts.finished,
    collected: counts.collected,
    skipped: counts.skipped,
    dropped: counts.dropped,
    failed: counts.failed,
    avgReward: counts.collected === 0 ? 0 : counts.rewardSum / counts.collected,
    elapsedMs: Date.now() - started,
    last,
  });
  const todo: { id: string; index: number }[] = [];
  ids.forEach((id, index) => {
    if (done.has(id)) {
      counts.skipped++;
      counts.finished++;
    } else {
      todo.push({ id, index });
    }
  });
  if (counts.skipped > 0) {
    last = `resuming: ${counts.skipped} of ${ids.length} episodes already in ${RESULTS_FILE}`;
    options.onProgress?.(report());
  }
  let writes: Promise<void> = Promise.resolve();
  const append = (record: EpisodeRecord): Promise<void> => {
    // One write per line, one at a time: an interruption leaves whole lines (or a torn last one, dropped on resume).
    writes = writes.then(() => fs.appendFile(resultsPath, `${JSON.stringify(record)}\n`));
    return writes;
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    let env: EnvClient<DescMessage, DescMessage, DescMessage, DescMessage> | undefined;
    try {
      while (next < todo.length && options.signal?.aborted !== true) {
        const job = todo[next++] as { id: string; index: number };
        try {
          env ??= await EnvClient.connect({ baseUrl: options.baseUrl, transport: options.transport, headers: options.headers });
          const episode = await runAgentEpisode(env, {
            chat: options.chat,
            maxTurns: options.maxTurns,
            systemPrompt: options.systemPrompt,
            prompt: options.prompt,
            temperature: options.temperature,
            maxTokens: options.maxTokens,
            signal: options.signal,
            reset: {
              episodeId: job.id,
              seed: options.seed === undefined ? undefined : options.seed + job.index,
              options: options.resetOptions,
            },
          });
          if (options.signal?.aborted) break;
          if (episode.reward < 0 && options.keepLosses !== true) {
            counts.dropped++;
            last = `${job.id} dropped (reward ${episode.reward})`;
          } else {
            await append(recordOf(job.id, episode));
            counts.collected++;
            counts.rewardSum += episode.reward;
            if (episode.reward > 0) counts.positive++;
            last = `${job.id} reward ${round(episode.reward)} (${episode.metrics.tool_calls} tool calls, ${episode.metrics.stop_reason})`;
          }
        } catch (err) {
          if (options.signal?.aborted) break;
          counts.failed++;
          const error = err instanceof Error ? err.message : String(err);
          failures.push({ episodeId: job.id, error });
          last = `${job.id} failed: ${error}`;
          // The session may be broken; the next episode opens a new one.
          await env?.close().catch(() => {});
          env = undefined;
        }
        counts.finished++;
        options.onProgress?.(report());
      }
    } finally {
      await env?.close().catch(() => {});
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 4, todo.length || 1));
  await Promise.all(Array.from({ length: workers }, worker));
  await writes;
  return {
    ...report(),
    resultsPath,
    failures,
    successRate: counts.collected === 0 ? 0 : counts.positive / counts.collected,
    interrupted: counts.finished < ids.length,
  };
}

/** The record of an episode, as written to results.jsonl. */
export function recordOf(episodeId: string, e: AgentEpisode): EpisodeRecord {
  return {
    episode_id: episodeId,
    messages: e.messages,
    tools: e.tools,
    reward: e.reward,
    done: e.done,
    terminated: e.terminated,
    truncated: e.truncated,
    tool_trace: e.toolTrace,
    metrics: e.metrics,
    task: e.task,
  };
}

/**
 * The episode ids already in a results file. A torn last line (the previous run
 * was killed while writing it) is cut off; any other line that is not an
 * episode record is an error naming the file and line.
 */
export async function collectedIds(resultsPath: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await fs.readFile(resultsPath, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Set();
    throw err;
  }
  const ids = new Set<string>();
  const lines = text.split("\n");
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const isLast = i === lines.length - 1;
    if (line.trim() !== "") {
      const id = episodeIdOf(line);
      if (id === undefined) {
        if (isLast) {
          await fs.truncate(resultsPath, Buffer.byteLength(text.slice(0, offset)));
          break;
        }
        throw new Error(`${resultsPath}:${i + 1}: not an episode record (a JSON object with a string episode_id)`);
      }
      ids.add(id);
    }
    offset += line.length + 1;
  }
  return ids;
}

function episodeIdOf(line: string): string | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    const id = typeof v === "object" && v !== null ? (v as { episode_id?: unknown }).episode_id : undefined;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** `--no-resume`: the previous results move aside to a timestamped backup (as OpenEnv does). */
async function startOver(resultsPath: string): Promise<Set<string>> {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  await fs.rename(resultsPath, resultsPath.replace(/\.jsonl$/, `.${stamp}.bak.jsonl`)).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== "ENOENT") throw err;
  });
  return new Set();
}

function round(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}
