import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, createFileRegistry, type DescField, type DescMessage, equals, fromBinary, setExtension } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { afterAll, describe, expect, it } from "vitest";
import {
  type FieldRules,
  FieldRulesSchema,
  file_buf_validate_validate as ownValidateFile,
  field as protovalidateField,
} from "../gen/buf/validate/validate_pb.js";
import { ChatActionSchema } from "../gen/openenv/envs/chat/v1/chat_pb.js";
import { MazeActionSchema } from "../gen/openenv/envs/maze/v1/maze_pb.js";
import { ValidatedActionSchema } from "../gen/openenv/testing/v1/validation_pb.js";
import { fileDescriptorSet } from "../src/protocol/descriptors.js";
import { fieldRules, validateMessage } from "../src/protocol/validate.js";

const dir = mkdtempSync(join(tmpdir(), "openenv-protovalidate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("protovalidate's annotations", () => {
  it("compile from the vendored validate.proto to exactly the descriptor @bufbuild/protovalidate ships", () => {
    const out = join(dir, "validate.binpb");
    execFileSync("node_modules/.bin/buf", [
      "build",
      "proto",
      "--path",
      "proto/buf/validate/validate.proto",
      "--exclude-source-info",
      "-o",
      out,
    ]);
    const built = fromBinary(FileDescriptorSetSchema, readFileSync(out)).file.find((f) => f.name === "buf/validate/validate.proto");
    expect(built).toBeDefined();
    expect(equals(FileDescriptorProtoSchema, built ?? create(FileDescriptorProtoSchema), file_buf_validate_validate.proto)).toBe(true);
  });

  it("are the rules the validator enforces, naming the field", () => {
    expect(fieldRules(ValidatedActionSchema.field.name)).toMatchObject({ required: true, minLen: 2, maxLen: 8 });
    expect(fieldRules(ChatActionSchema.field.role)?.allowed).toEqual(["system", "user", "assistant", "tool"]);
    // enum.defined_only on a contiguous enum is its range; required rules out the zero value.
    expect(fieldRules(MazeActionSchema.field.direction)).toMatchObject({ required: true, gte: 0, lte: 4 });
    const bad = create(ValidatedActionSchema, { name: "x", count: 11, mode: "fly" });
    expect(validateMessage(ValidatedActionSchema, bad).map((v) => `${v.field}:${v.rule}`)).toEqual([
      "name:min_len",
      "count:lte",
      "mode:allowed",
    ]);
    expect(validateMessage(MazeActionSchema, create(MazeActionSchema, { direction: 7 as never })).map((v) => v.description)).toEqual([
      "value must be less than or equal to 4",
    ]);
  });

  it("stay on the fields Describe sends, without protovalidate's 70 KB file", () => {
    const set = fileDescriptorSet([ChatActionSchema]);
    expect(set.file.map((f) => f.name)).not.toContain("buf/validate/validate.proto");
    const chat = set.file.find((f) => f.name === "openenv/envs/chat/v1/chat.proto");
    expect(chat?.dependency).not.toContain("buf/validate/validate.proto");
    expect(chat?.messageType[0]?.field[0]?.options).toBeDefined();
    // The shared descriptor itself is untouched.
    expect(ChatActionSchema.file.proto.dependency).toContain("buf/validate/validate.proto");
  });
});

describe("rules the gateway's generator writes", () => {
  // A message built in memory: the rules sit in FieldOptions exactly as a compiled .proto carries them.
  const options = (rules: FieldRules) => {
    const o = create(FieldOptionsSchema);
    setExtension(o, protovalidateField, rules);
    return o;
  };
  const file = create(FileDescriptorProtoSchema, {
    name: "rules_test.proto",
    package: "rules.test",
    syntax: "proto3",
    dependency: ["buf/validate/validate.proto"],
    messageType: [
      {
        name: "Rules",
        field: [
          {
            name: "scores",
            number: 1,
            type: FieldDescriptorProto_Type.INT32,
            label: FieldDescriptorProto_Label.REPEATED,
            options: options(
              create(FieldRulesSchema, {
                type: {
                  case: "repeated",
                  value: {
                    maxItems: 2n,
                    items: {
                      type: { case: "int32", value: { greaterThan: { case: "gte", value: 0 }, lessThan: { case: "lte", value: 9 } } },
                    },
                  },
                },
              }),
            ),
          },
          {
            name: "codes",
            number: 2,
            type: FieldDescriptorProto_Type.STRING,
            label: FieldDescriptorProto_Label.REPEATED,
            options: options(
              create(FieldRulesSchema, {
                type: {
                  case: "repeated",
                  value: { items: { type: { case: "string", value: { pattern: "^[a-z]+$", in: ["ab", "cd"] } } } },
                },
              }),
            ),
          },
          {
            name: "code",
            number: 3,
            type: FieldDescriptorProto_Type.STRING,
            label: FieldDescriptorProto_Label.OPTIONAL,
            options: options(create(FieldRulesSchema, { type: { case: "string", value: { len: 3n } } })),
          },
        ],
      },
      // Kept apart: the validator refuses the whole message.
      {
        name: "ItemLengths",
        field: [
          {
            name: "names",
            number: 1,
            type: FieldDescriptorProto_Type.STRING,
            label: FieldDescriptorProto_Label.REPEATED,
            options: options(
              create(FieldRulesSchema, {
                type: { case: "repeated", value: { items: { type: { case: "string", value: { maxLen: 2n } } } } },
              }),
            ),
          },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) => (name === file_buf_validate_validate.proto.name ? ownValidateFile : undefined));
  const schema = registry.getMessage("rules.test.Rules") as DescMessage;
  const field = (name: string) => schema.fields.find((f) => f.name === name) as DescField;

  it("repeated.items bounds, pattern and in apply to each item", () => {
    expect(fieldRules(field("scores"))).toMatchObject({ maxLen: 2, gte: 0, lte: 9 });
    expect(fieldRules(field("codes"))).toMatchObject({ pattern: "^[a-z]+$", allowed: ["ab", "cd"] });
    const bad = create(schema, { scores: [1, 10, -1], codes: ["ab", "XY"], code: "abc" });
    expect(validateMessage(schema, bad).map((v) => `${v.field}:${v.rule}`)).toEqual([
      "scores:max_len",
      "scores[1]:lte",
      "scores[2]:gte",
      "codes[1]:pattern",
      "codes[1]:allowed",
    ]);
  });

  it("string.len is both length bounds", () => {
    expect(fieldRules(field("code"))).toMatchObject({ minLen: 3, maxLen: 3 });
    expect(validateMessage(schema, create(schema, { code: "abcd" })).map((v) => `${v.field}:${v.rule}`)).toEqual(["code:max_len"]);
    expect(validateMessage(schema, create(schema, { code: "ab" })).map((v) => `${v.field}:${v.rule}`)).toEqual(["code:min_len"]);
  });

  it("refuses item lengths, which it would mistake for the list's", () => {
    const names = registry.getMessage("rules.test.ItemLengths")?.fields[0] as DescField;
    expect(() => fieldRules(names)).toThrow(
      "rules.test.ItemLengths.names: protovalidate rule repeated.items with required or length rules is not supported",
    );
  });
});
