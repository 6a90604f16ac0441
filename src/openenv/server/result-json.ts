import type { DescMessage, JsonObject, JsonValue, Message, Registry } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import type { StepRecord } from "../../core/session.js";
import { setOwn } from "../../protocol/own-keys.js";
import type { EnvironmentSpec } from "../../server/environment.js";
import { encodeOpenEnvJson, type OpenEnvFieldError } from "../json/decode.js";

/** Keys OpenEnv's `serialize_observation` moves out of the observation object. */
const LIFTED = ["reward", "done", "metadata"] as const;

/** Pydantic's documentation link, part of the error shape OpenEnv sends for model errors. */
const PYDANTIC_URL = "https://errors.pydantic.dev/2.14/v/";

/** Longest string kept in an error's `input`: errors must not echo a 100 MB frame back. */
const MAX_INPUT_CHARS = 4096;

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
  const json = encodeOpenEnvJson(spec.observation, observation, registry);
  for (const key of LIFTED) delete json[key];
  return json;
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

/**
 * Errors as Pydantic's `errors()` list: `url` is added for model errors (what
 * OpenEnv returns for actions and WebSocket frames) and left out for FastAPI's
 * request-body errors; long strings in `input` are cut.
 */
export function pydanticErrors(errors: readonly OpenEnvFieldError[], withUrl: boolean): JsonObject[] {
  return errors.map((e) => {
    const out: JsonObject = { type: e.type, loc: [...e.loc], msg: e.msg, input: clip(e.input) };
    if (e.ctx !== undefined) out.ctx = e.ctx;
    if (withUrl) out.url = `${PYDANTIC_URL}${e.type}`;
    return out;
  });
}

function clip(v: JsonValue): JsonValue {
  if (typeof v === "string") return v.length > MAX_INPUT_CHARS ? `${v.slice(0, MAX_INPUT_CHARS)}...` : v;
  if (Array.isArray(v)) return v.length > 100 ? [...v.slice(0, 100).map(clip), "..."] : v.map(clip);
  if (v !== null && typeof v === "object") {
    const out: JsonObject = {};
    for (const [k, item] of Object.entries(v)) setOwn(out, k, clip(item as JsonValue));
    return out;
  }
  return v;
}

/** The Connect code of an error as a string, e.g. `failed_precondition`. */
export function statusOf(err: ConnectError): string {
  return codeToString(err.code);
}

/** Python's `type(x).__name__` of a JSON value, for messages that name a wrong type. */
export function pythonTypeName(v: unknown): string {
  if (v === null) return "NoneType";
  if (Array.isArray(v)) return "list";
  switch (typeof v) {
    case "string":
      return "str";
    case "boolean":
      return "bool";
    case "number":
      return Number.isInteger(v) ? "int" : "float";
    default:
      return "dict";
  }
}

/** Python's `str(x)` of a JSON value, as in `f"Unknown message type: {x}"`. */
export function pythonStr(v: unknown): string {
  if (typeof v === "string") return v;
  return pythonRepr(v);
}

/** Python's `repr(x)` of a JSON value. */
export function pythonRepr(v: unknown): string {
  if (v === null || v === undefined) return "None";
  if (v === true) return "True";
  if (v === false) return "False";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : v > 0 ? "inf" : v < 0 ? "-inf" : "nan";
  if (typeof v === "string") {
    const q = v.includes("'") && !v.includes('"') ? '"' : "'";
    const body = v
      .replace(/\\/g, "\\\\")
      .replace(/\n/g, "\\n")
      .replace(/\r/g, "\\r")
      .replace(/\t/g, "\\t")
      .replace(new RegExp(q, "g"), `\\${q}`);
    return `${q}${body}${q}`;
  }
  if (Array.isArray(v)) return `[${v.map(pythonRepr).join(", ")}]`;
  return `{${Object.entries(v as object)
    .map(([k, item]) => `${pythonRepr(k)}: ${pythonRepr(item)}`)
    .join(", ")}}`;
}
