import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { EnvironmentSchemas } from "../../src/gateway/generate.js";

/**
 * The `/schema` answers of OpenEnv environments (test/fixtures/openenv-schemas):
 * echo_env_mcp recorded from OpenEnv's reference server, the others written
 * from OpenEnv's Pydantic models in the layout Pydantic v2 gives them, each
 * with sample JSON as its Python server sends it (model_dump()).
 */
export interface Fixture {
  readonly name: string;
  readonly about: string;
  /** The `/metadata` answer. */
  readonly metadata: JsonObject;
  readonly schema: EnvironmentSchemas;
  readonly samples: { readonly action: JsonValue[]; readonly observation: JsonValue[]; readonly state: JsonValue[] };
}

export const fixtureDir = join(import.meta.dirname, "..", "fixtures", "openenv-schemas");

export const fixtures: readonly Fixture[] = readdirSync(fixtureDir)
  .filter((f) => f.endsWith(".json"))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(fixtureDir, f), "utf8")) as Fixture);
