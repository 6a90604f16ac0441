import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { EnvironmentSpec } from "../../server/environment.js";

/**
 * `/openapi.json` of the OpenEnv surface. `openenv validate --url` reads
 * `info.version` (1.x: profile `openenv-http/1.x`) and `paths` (simulation
 * mode iff `/reset`, `/step` and `/state` are all listed).
 */
export function buildOpenApi(spec: EnvironmentSpec, mode: "simulation" | "production", schemas: JsonObject): JsonObject {
  const components: JsonObject = {};
  const hoist = (name: string, schema: JsonValue): JsonObject => {
    components[name] = rewriteRefs(schema, components);
    return ref(name);
  };
  const action = hoist("Action", schemas.action as JsonValue);
  hoist("Observation", schemas.observation as JsonValue);
  const state = hoist("State", schemas.state as JsonValue);
  const observationPayload = (): JsonObject => ({
    type: "object",
    properties: {
      observation: { type: "object", additionalProperties: true, title: "Observation" },
      reward: { anyOf: [{ type: "number" }, { type: "null" }], title: "Reward" },
      done: { type: "boolean", default: false, title: "Done" },
      metadata: { type: "object", additionalProperties: true, title: "Metadata" },
    },
    required: ["observation"],
  });
  components.ResetRequest = {
    title: "ResetRequest",
    type: "object",
    additionalProperties: true,
    properties: {
      seed: { anyOf: [{ type: "integer", minimum: 0 }, { type: "null" }], default: null, title: "Seed" },
      episode_id: { anyOf: [{ type: "string", maxLength: 255 }, { type: "null" }], default: null, title: "Episode Id" },
    },
  };
  components.ResetResponse = { title: "ResetResponse", ...observationPayload() };
  components.StepRequest = {
    title: "StepRequest",
    type: "object",
    additionalProperties: true,
    properties: {
      action: action,
      timeout_s: { anyOf: [{ type: "number", exclusiveMinimum: 0 }, { type: "null" }], default: null, title: "Timeout S" },
      request_id: { anyOf: [{ type: "string", maxLength: 255 }, { type: "null" }], default: null, title: "Request Id" },
    },
    required: ["action"],
  };
  components.StepResponse = { title: "StepResponse", ...observationPayload() };
  components.EnvironmentMetadata = {
    title: "EnvironmentMetadata",
    type: "object",
    properties: {
      name: { type: "string", title: "Name" },
      description: { type: "string", title: "Description" },
      readme_content: { anyOf: [{ type: "string" }, { type: "null" }], title: "Readme Content" },
      version: { anyOf: [{ type: "string" }, { type: "null" }], title: "Version" },
      author: { anyOf: [{ type: "string" }, { type: "null" }], title: "Author" },
      documentation_url: { anyOf: [{ type: "string" }, { type: "null" }], title: "Documentation Url" },
    },
    required: ["name", "description"],
  };
  components.HealthResponse = {
    title: "HealthResponse",
    type: "object",
    properties: { status: { type: "string", enum: ["healthy", "unhealthy", "degraded"], title: "Status" } },
    required: ["status"],
  };
  components.SchemaResponse = {
    title: "SchemaResponse",
    type: "object",
    properties: {
      action: { type: "object", title: "Action" },
      observation: { type: "object", title: "Observation" },
      state: { type: "object", title: "State" },
    },
    required: ["action", "observation", "state"],
  };
  components.ValidationError = {
    title: "ValidationError",
    type: "object",
    properties: {
      loc: { type: "array", items: { anyOf: [{ type: "string" }, { type: "integer" }] }, title: "Location" },
      msg: { type: "string", title: "Message" },
      type: { type: "string", title: "Error Type" },
      input: { title: "Input" },
      ctx: { type: "object", title: "Context" },
    },
    required: ["loc", "msg", "type"],
  };
  components.HTTPValidationError = {
    title: "HTTPValidationError",
    type: "object",
    properties: { detail: { type: "array", items: ref("ValidationError"), title: "Detail" } },
  };
  const sessionHeader: JsonObject = {
    name: "OpenEnv-Session-Id",
    in: "header",
    required: false,
    description:
      "Stateful mode: `new` on /reset opens a session and returns its id (header and body `session_id`); that id on /reset, /step and /state uses the session. Without it every call runs on a fresh environment.",
    schema: { type: "string" },
  };
  const json = (schema: JsonObject): JsonObject => ({ content: { "application/json": { schema } } });
  const ok = (schema: JsonObject): JsonObject => ({ description: "Successful Response", ...json(schema) });
  const invalid: JsonObject = { description: "Validation Error", ...json(ref("HTTPValidationError")) };
  const paths: JsonObject = {};
  if (mode === "simulation") {
    paths["/reset"] = {
      post: {
        tags: ["Environment Control"],
        summary: "Reset the environment",
        description: "Starts a new episode and returns its first observation.",
        operationId: "reset_reset_post",
        parameters: [sessionHeader],
        requestBody: { required: false, ...json(ref("ResetRequest")) },
        responses: { "200": ok(ref("ResetResponse")), "422": invalid },
      },
    };
    paths["/step"] = {
      post: {
        tags: ["Environment Control"],
        summary: "Execute an action in the environment",
        description: "Applies one action and returns the observation, reward and done flag.",
        operationId: "step_step_post",
        parameters: [sessionHeader],
        requestBody: { required: true, ...json(ref("StepRequest")) },
        responses: { "200": ok(ref("StepResponse")), "422": invalid },
      },
    };
    paths["/state"] = {
      get: {
        tags: ["State Management"],
        summary: "Get current environment state",
        operationId: "get_state_state_get",
        parameters: [sessionHeader],
        responses: { "200": ok(state) },
      },
    };
  }
  paths["/metadata"] = {
    get: {
      tags: ["Environment Info"],
      summary: "Get environment metadata",
      operationId: "get_metadata_metadata_get",
      responses: { "200": ok(ref("EnvironmentMetadata")) },
    },
  };
  paths["/schema"] = {
    get: {
      tags: ["Schema"],
      summary: "Get all JSON schemas",
      description: "JSON Schemas of the action, observation and state, derived from the environment's protobuf messages.",
      operationId: "get_schemas_schema_get",
      responses: { "200": ok(ref("SchemaResponse")) },
    },
  };
  paths["/mcp"] = {
    post: {
      tags: ["MCP"],
      summary: "MCP JSON-RPC endpoint",
      description: "JSON-RPC 2.0: openenv/session/create, openenv/session/close, tools/list, tools/call. Always HTTP 200.",
      operationId: "mcp_mcp_post",
      requestBody: { required: true, ...json({ type: "object" }) },
      responses: { "200": ok({ type: "object" }) },
    },
  };
  paths["/health"] = {
    get: {
      tags: ["Health"],
      summary: "Health check",
      operationId: "health_health_get",
      responses: { "200": ok(ref("HealthResponse")) },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "OpenEnv Environment HTTP API",
      description: `HTTP API of the ${spec.name} environment (openenv-connect; OpenEnv-compatible). The stateful session protocol is the WebSocket /ws.`,
      version: "1.0.0",
      license: { name: "BSD-3-Clause", url: "https://opensource.org/licenses/BSD-3-Clause" },
    },
    paths,
    components: { schemas: components },
  };
}

function ref(name: string): JsonObject {
  return { $ref: `#/components/schemas/${name}` };
}

/** Moves a JSON Schema's `$defs` into the components and points its `$ref`s there. */
function rewriteRefs(schema: JsonValue, components: JsonObject): JsonValue {
  const visit = (v: JsonValue): JsonValue => {
    if (Array.isArray(v)) return v.map(visit);
    if (v === null || typeof v !== "object") return v;
    const out: JsonObject = {};
    for (const [k, item] of Object.entries(v)) {
      if (k === "$defs" && item !== null && typeof item === "object" && !Array.isArray(item)) {
        for (const [name, def] of Object.entries(item)) if (!(name in components)) components[name] = visit(def as JsonValue);
        continue;
      }
      out[k] = k === "$ref" && typeof item === "string" ? item.replace("#/$defs/", "#/components/schemas/") : visit(item as JsonValue);
    }
    return out;
  };
  return visit(schema);
}
