import type { DescMessage, JsonObject, Message, Registry } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { StepRecord } from "../../core/session.js";
import type { EnvironmentSpec } from "../../server/environment.js";
import { encodeOpenEnvJson } from "../json/encode.js";

/** Keys OpenEnv's `serialize_observation` moves out of the observation object. */
const LIFTED: ReadonlySet<string> = new Set(["reward", "done", "metadata"]);

/** What goes into a step result payload besides OpenEnv's own keys. */
export interface PayloadExtras {
  /** Add openenv-connect's fields (terminated, truncated, step_count, episode_id, reward_components). */
  readonly extensions: boolean;
  /** A session id to report (stateful HTTP, or WebSocket with extensions). */
  readonly sessionId?: string | undefined;
}

/**
 * A reward as Python's `json.dumps(float(r))` writes it: `0.0`, not `0`, so
 * Python clients get a float as from OpenEnv. Non-finite rewards become null.
 */
export function floatJson(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "null";
  if (Number.isInteger(n) && Math.abs(n) < 1e16) return n.toFixed(1);
  return JSON.stringify(n);
}

/** The observation's own fields in OpenEnv JSON, without the lifted reward/done/metadata. */
export function observationJson(spec: EnvironmentSpec, observation: Message, registry: Registry): JsonObject {
  return encodeOpenEnvJson(spec.observation, observation, registry, LIFTED);
}

/**
 * `{"observation": {...}, "reward": r, "done": d, "metadata": {...}}`: OpenEnv's
 * `serialize_observation` with the top-level `metadata` newer clients read.
 */
export function resultPayload(spec: EnvironmentSpec, record: StepRecord, registry: Registry, extras: PayloadExtras): string {
  const parts = [
    `"observation":${JSON.stringify(observationJson(spec, record.observation, registry))}`,
    `"reward":${floatJson(record.reward)}`,
    `"done":${record.done}`,
    `"metadata":${JSON.stringify(metadataWithComponents(record))}`,
  ];
  if (extras.extensions) {
    parts.push(
      `"terminated":${record.terminated}`,
      `"truncated":${record.truncated}`,
      `"step_count":${record.stepCount}`,
      `"episode_id":${JSON.stringify(record.episodeId)}`,
      `"reward_components":${JSON.stringify(record.rewardComponents ?? {})}`,
    );
  }
  if (extras.sessionId !== undefined) parts.push(`"session_id":${JSON.stringify(extras.sessionId)}`);
  return `{${parts.join(",")}}`;
}

/**
 * The step's metadata, with the rubric's named scores under `reward_components`
 * (unless the environment used that key itself): OpenEnv clients read metadata,
 * so every client sees the reward breakdown, not only ours.
 */
function metadataWithComponents(record: StepRecord): JsonObject {
  const metadata = record.metadata ?? {};
  const components = record.rewardComponents;
  if (components === undefined || Object.keys(components).length === 0 || "reward_components" in metadata) return metadata;
  return { ...metadata, reward_components: { ...components } };
}

/** A state message in OpenEnv JSON (the environment's full State, as upstream's `state_cls`). */
export function stateJson(schema: DescMessage, state: Message, registry: Registry): JsonObject {
  return encodeOpenEnvJson(schema, state, registry);
}

/** OpenEnv's `/metadata` body. */
export function metadataJson(spec: EnvironmentSpec): JsonObject {
  return {
    name: spec.name,
    description: spec.description ?? `${spec.name} environment`,
    readme_content: spec.readme ?? null,
    version: spec.version ?? "1.0.0",
    author: spec.author ?? null,
    documentation_url: spec.documentationUrl ?? null,
  };
}

/** The Connect code of an error as a string, e.g. `failed_precondition`. */
export function statusOf(err: ConnectError): string {
  return codeToString(err.code);
}
