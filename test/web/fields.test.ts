import { describe, expect, it } from "vitest";
import { CodeActionSchema } from "../../gen/openenv/envs/coding/v1/coding_pb.js";
import { MazeActionSchema } from "../../gen/openenv/envs/maze/v1/maze_pb.js";
import { jsonSchemasOf } from "../../src/server/environment-service.js";
import { fieldsFromJsonSchema, fieldsFromMessage } from "../../src/web/app/fields.js";

/** The /web page's form model, from descriptors and from JSON Schemas (ours and Pydantic's). */

describe("form fields from protobuf descriptors", () => {
  it("turns field rules into constraints, enums into value lists, repeated messages into lists of nested fields", () => {
    // (buf.validate.field) enum.defined_only is the range of defined numbers; required excludes UNSPECIFIED (0).
    const [direction] = fieldsFromMessage(MazeActionSchema);
    expect(direction).toMatchObject({ name: "direction", kind: "enum", repeated: false, constraints: { required: true, gte: 0, lte: 4 } });
    expect(direction?.enumValues).toEqual(["DIRECTION_UNSPECIFIED", "DIRECTION_UP", "DIRECTION_DOWN", "DIRECTION_LEFT", "DIRECTION_RIGHT"]);
    const [code, timeout, tests] = fieldsFromMessage(CodeActionSchema);
    expect(code).toMatchObject({ kind: "string", optional: false, constraints: { maxLen: 1048576 } });
    expect(timeout).toMatchObject({ kind: "number", optional: true, constraints: { gte: 0.001, lte: 86400 } });
    expect(tests).toMatchObject({ kind: "message", repeated: true, constraints: { maxLen: 256 } });
    expect(tests?.fields?.map((f) => [f.name, f.constraints.required ?? false])).toEqual([
      ["name", false],
      ["code", true],
    ]);
  });

  it("gives the same form from our /schema as from the descriptors", () => {
    const fromSchema = fieldsFromJsonSchema(
      jsonSchemasOf({ name: "maze", action: MazeActionSchema, observation: MazeActionSchema, state: MazeActionSchema }).action,
    );
    expect(fromSchema.map((f) => [f.name, f.kind, f.enumValues])).toEqual(
      fieldsFromMessage(MazeActionSchema).map((f) => [f.name, f.kind, f.enumValues]),
    );
  });
});

describe("form fields from a Pydantic JSON Schema (OpenEnv's Python servers)", () => {
  it("reads $defs references, Optional (anyOf with null), Literal, lists and bounds", () => {
    // The shape Pydantic 2 writes for an OpenEnv Action model.
    const schema = {
      title: "CodeAction",
      type: "object",
      additionalProperties: false,
      properties: {
        code: { title: "Code", type: "string", minLength: 1 },
        timeout_s: { anyOf: [{ type: "number", exclusiveMinimum: 0, maximum: 60 }, { type: "null" }], default: null, title: "Timeout S" },
        mode: { enum: ["fast", "safe"], title: "Mode", type: "string" },
        kind: { const: "run", title: "Kind", type: "string" },
        tests: { type: "array", items: { $ref: "#/$defs/Test" }, maxItems: 8 },
        options: { type: "object", additionalProperties: true },
      },
      required: ["code"],
      $defs: {
        Test: { title: "Test", type: "object", properties: { name: { type: "string" }, passed: { type: "boolean" } } },
      },
    };
    const fields = fieldsFromJsonSchema(schema);
    const by = Object.fromEntries(fields.map((f) => [f.name, f]));
    expect(by.code).toMatchObject({ kind: "string", constraints: { required: true, minLen: 1 } });
    expect(by.timeout_s).toMatchObject({ kind: "number", optional: true, constraints: { lte: 60 } });
    expect(by.mode).toMatchObject({ kind: "enum", enumValues: ["fast", "safe"] });
    expect(by.kind).toMatchObject({ kind: "enum", enumValues: ["run"] });
    expect(by.tests).toMatchObject({ kind: "message", repeated: true, constraints: { maxLen: 8 } });
    expect(by.tests?.fields?.map((f) => [f.name, f.kind])).toEqual([
      ["name", "string"],
      ["passed", "boolean"],
    ]);
    expect(by.options?.kind).toBe("json");
  });
});
