import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, equals, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { afterAll, describe, expect, it } from "vitest";
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
