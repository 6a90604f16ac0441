import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HeaderValues } from "../client/backend.js";
import { OpenEnvHttp } from "../openenv/client/connection.js";
import { isJsonObject } from "../protocol/json-object.js";
import type { EnvironmentSchemas } from "./model-builder.js";

/** What an OpenEnv server says about itself: its JSON Schemas (`/schema`) and metadata (`/metadata`). */
export interface UpstreamDescription {
  readonly schemas: EnvironmentSchemas;
  /** `/metadata` (empty when the server has none). */
  readonly metadata: JsonObject;
  /** The environment's name: `/metadata`'s name, else the URL's last path segment or host. */
  readonly name: string;
}

/** A `/schema` answer (`{action, observation, state}`), or undefined when the value is not one. */
export function schemasOf(json: JsonValue | undefined): EnvironmentSchemas | undefined {
  if (!isJsonObject(json) || !("action" in json) || !("observation" in json) || !("state" in json)) return undefined;
  return { action: json.action as JsonValue, observation: json.observation as JsonValue, state: json.state as JsonValue };
}

/** Reads `/schema` and `/metadata` of an OpenEnv server (UNAVAILABLE when it cannot be reached). */
export async function fetchUpstreamSchemas(
  baseUrl: string,
  options: { headers?: HeaderValues; timeoutMs?: number } = {},
): Promise<UpstreamDescription> {
  const http = new OpenEnvHttp(baseUrl, { headers: options.headers });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { body } = await http.get("/schema", {}, timeoutMs);
  const schemas = schemasOf(body as JsonValue);
  if (schemas === undefined) {
    throw new ConnectError(
      `${baseUrl}/schema is not an OpenEnv /schema answer (expected "action", "observation" and "state")`,
      Code.FailedPrecondition,
    );
  }
  // /metadata is optional in practice: older servers lack it.
  const metadata: JsonObject = await http.get("/metadata", {}, timeoutMs).then(
    (r) => (isJsonObject(r.body) ? r.body : {}),
    (): JsonObject => ({}),
  );
  const fallback =
    new URL(baseUrl).pathname
      .split("/")
      .filter((p) => p !== "")
      .pop() ?? new URL(baseUrl).hostname;
  const name = typeof metadata.name === "string" && metadata.name !== "" ? metadata.name : fallback;
  return { schemas, metadata, name };
}
