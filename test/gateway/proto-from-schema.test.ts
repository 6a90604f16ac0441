import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { type DescField, type DescMessage, equals, fromBinary, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createValidator } from "@bufbuild/protovalidate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { bundledEnvironments } from "../../src/envs/bundled.js";
import { defaultPackage, loadTypes, protoFromSchemas, SchemaMismatchError } from "../../src/gateway/generate.js";
import { fieldRules, validateMessage } from "../../src/protocol/validate.js";
import { toFactory } from "../../src/server/environment.js";
import { jsonSchemasOf } from "../../src/server/environment-service.js";
import { type Fixture, fixtures } from "./fixtures.js";

const exec = promisify(execFile);
const repo = join(import.meta.dirname, "..", "..");
const buf = join(repo, "node_modules", ".bin", "buf");

const packageOf = (f: Fixture): string => `openenv.upstream.${f.name}.v1`;

describe("openenv proto: every fixture schema compiles with buf", () => {
  let dir: string;
  let built: Map<string, Uint8Array>;

  beforeAll(async () => {
    // One buf module holding every generated file, compiled, linted and format-checked at once.
    dir = mkdtempSync(join(tmpdir(), "i17-proto-"));
    mkdirSync(join(dir, "buf", "validate"), { recursive: true });
    copyFileSync(join(repo, "proto", "buf", "validate", "validate.proto"), join(dir, "buf", "validate", "validate.proto"));
    // STANDARD includes PROTOVALIDATE: buf checks each rule fits its field's type and is consistent.
    writeFileSync(join(dir, "buf.yaml"), "version: v2\nlint:\n  use: [STANDARD, COMMENTS]\n  ignore: [buf/validate]\n");
    for (const f of fixtures) {
      const generated = protoFromSchemas(f.schema, { package: packageOf(f) });
      const path = join(dir, generated.model.path);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, generated.text);
    }
    await exec(buf, ["build", "--exclude-source-info", "-o", join(dir, "set.binpb")], { cwd: dir, timeout: 120_000 });
    const set = fromBinary(FileDescriptorSetSchema, readFileSync(join(dir, "set.binpb")));
    built = new Map(set.file.map((file) => [file.name, toBinary(FileDescriptorProtoSchema, file)]));
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("covers the six environments the brief names and more", () => {
    const names = fixtures.map((f) => f.name);
    for (const env of ["echo_env", "echo_env_mcp", "coding_env", "chat_env", "maze_env", "connect4_env", "wordle_env"]) {
      expect(names).toContain(env);
    }
    expect(names.length).toBeGreaterThanOrEqual(15);
  });

  it("passes buf lint (STANDARD and COMMENTS) and buf format", async () => {
    await exec(buf, ["lint"], { cwd: dir, timeout: 120_000 });
    await exec(buf, ["format", "--diff", "--exit-code"], { cwd: dir, timeout: 120_000 });
  }, 120_000);

  it.each(fixtures.map((f) => [f.name, f] as const))(
    "%s: buf compiles the printed text to the very descriptor the gateway loads",
    (_name, f) => {
      const generated = protoFromSchemas(f.schema, { package: packageOf(f) });
      const compiled = built.get(generated.model.path);
      expect(compiled).toBeDefined();
      const ours = fromBinary(FileDescriptorProtoSchema, toBinary(FileDescriptorProtoSchema, generated.descriptor));
      ours.sourceCodeInfo = undefined;
      expect(equals(FileDescriptorProtoSchema, fromBinary(FileDescriptorProtoSchema, compiled as Uint8Array), ours)).toBe(true);
    },
  );
});

describe("JSON produced by the Python servers round-trips through the generated messages", () => {
  const cases = fixtures.flatMap((f) =>
    (["action", "observation", "state"] as const).flatMap((role) =>
      f.samples[role].map((sample, i) => [`${f.name} ${role} #${i}`, f, role, sample] as const),
    ),
  );

  it.each(cases)("%s", (_label, f, role, sample) => {
    const types = loadTypes(protoFromSchemas(f.schema, { package: packageOf(f) }));
    const codec = types[role];
    const message = codec.decode(sample);
    const wire = toBinary(codec.schema, message);
    // `response` writes what model_dump() writes; a `request` leaves out what is unset (Pydantic's defaults apply).
    expect(codec.encode(fromBinary(codec.schema, wire), "response")).toStrictEqual(sample);
    const request = codec.encode(message, "request");
    expect(equals(codec.schema, codec.decode(request), message)).toBe(true);
  });
});

describe("the mapping", () => {
  const features = fixtures.find((f) => f.name === "schema_features") as Fixture;
  const generated = protoFromSchemas(features.schema, { package: "openenv.upstream.features.v1" });
  const types = loadTypes(generated);
  const field = (m: DescMessage, name: string) => {
    const f = m.fields.find((x) => x.name === name);
    if (f === undefined) throw new Error(`no field ${name} in ${m.typeName}`);
    return f;
  };

  it("maps unions JSON can tell apart to oneofs, by JSON type or by discriminator", () => {
    const action = types.action.schema;
    expect(action.oneofs.map((o) => [o.name, o.fields.map((f) => f.name)])).toEqual([
      ["choice", ["choice_string", "choice_int64"]],
      ["shape", ["circle", "square"]],
    ]);
    const observation = types.observation.schema;
    expect(observation.oneofs.find((o) => o.name === "answer")?.fields.map((f) => f.name)).toEqual([
      "answer_bool",
      "answer_double",
      "answer_string",
      "answer_int64_list",
      "tree_node",
    ]);
    const decoded = types.action.decode({ ...(features.samples.action[1] as JsonObject), shape: { kind: "square", side: 3 } });
    expect((decoded as unknown as { shape: { case: string } }).shape.case).toBe("square");
    expect(() => types.action.decode({ shape: { kind: "triangle" }, code: "ABC", tree: { label: "" } })).toThrow(SchemaMismatchError);
  });

  it("wraps lists that cannot be repeated fields, and keeps nullability", () => {
    const o = types.observation.schema;
    expect(field(o, "grid").message?.name).toBe("DoubleListListList");
    expect(field(o, "series").fieldKind).toBe("map");
    expect(field(o, "series").message?.name).toBe("Int64List");
    expect(field(o, "maybe_scores").message?.name).toBe("DoubleMap");
    expect(field(o, "labels").message?.typeName).toBe("google.protobuf.Value");
    expect(field(o, "status").presence).toBe(1); // EXPLICIT: proto3 optional
    expect(field(o, "status").enum?.values.map((v) => v.name)).toEqual([
      "STATUS_UNSPECIFIED",
      "STATUS_OK",
      "STATUS_ERROR",
      "STATUS_UNSPECIFIED_VALUE",
      "STATUS_V1ST",
    ]);
  });

  it("names what it cannot map in a comment and carries it as google.protobuf.Value", () => {
    const a = types.action.schema;
    for (const name of ["mixed_tuple", "neither"]) expect(field(a, name).message?.typeName).toBe("google.protobuf.Value");
    expect(generated.text).toMatch(
      /Not mapped to a proto type: the schema is a tuple of different types; carried as google\.protobuf\.Value\.\n\s+google\.protobuf\.Value mixed_tuple = /,
    );
    expect(generated.text).toMatch(
      /the schema uses not, which no proto type expresses; carried as google\.protobuf\.Value\.\n\s+google\.protobuf\.Value neither = /,
    );
    expect(generated.text).toContain("Checked by the upstream only: uniqueItems.");
    expect(generated.text).toContain("Checked by the upstream only: exclusiveMaximum 1.");
  });

  it("writes field rules from the schema's constraints, and a source comment on every field", () => {
    expect(generated.text).toContain('import "buf/validate/validate.proto";');
    expect(generated.text).not.toContain("openenv.v1.rules");
    expect(generated.text).toMatch(
      /string code = \d+ \[\n\s+\(buf\.validate\.field\)\.string\.len = 3,\n\s+\(buf\.validate\.field\)\.string\.pattern = "\^\[A-Z\]\{3\}\$"\n\s+\];/,
    );
    expect(generated.text).toContain(
      "repeated int64 window = 13 [\n    (buf.validate.field).repeated.min_items = 2,\n    (buf.validate.field).repeated.max_items = 2\n  ];",
    );
    expect(generated.text).toContain("optional uint64 gt_zero = 15 [(buf.validate.field).uint64.gte = 1];");
    expect(generated.text).toContain("optional double fraction = 16 [(buf.validate.field).double.gte = 0];");
    expect(generated.text).toContain("TreeNode tree = 18 [(buf.validate.field).required = true];");
    const fieldLines = generated.text.split("\n").filter((l) => /^\s+(optional |repeated )?[\w.<>, ]+ \w+ = \d+/.test(l));
    expect(fieldLines.length).toBeGreaterThan(30);
    // Every field but a wrapper's `values` and a oneof member is preceded by its "Source:" line.
    expect((generated.text.match(/\/\/ Source: /g) ?? []).length).toBeGreaterThan(30);
    // Rules are enforced when the gateway decodes a client's action.
    const connect4 = fixtures.find((f) => f.name === "connect4_env") as Fixture;
    const c4 = protoFromSchemas(connect4.schema, { package: "openenv.upstream.connect4.v1" });
    expect(c4.text).toContain("int32 column = 2 [\n    (buf.validate.field).int32.lte = 6,\n    (buf.validate.field).int32.gte = 0\n  ];");
    const column = loadTypes(c4).action.schema.fields.find((f) => f.name === "column") as DescField;
    expect(fieldRules(column)).toMatchObject({ gte: 0, lte: 6 });
  });

  it("sanitises names for buf lint and keeps the JSON keys", () => {
    const a = types.action.schema;
    expect(a.fields.map((f) => f.name)).toEqual(expect.arrayContaining(["camel_case_key", "weird_key", "field_9lives"]));
    const json = types.action.encode(types.action.decode(features.samples.action[0]), "response") as JsonObject;
    expect(Object.keys(json)).toEqual(Object.keys(features.samples.action[0] as JsonObject));
  });

  it("reports JSON that does not fit the schema with the path", () => {
    const maze = fixtures.find((f) => f.name === "maze_env") as Fixture;
    const t = loadTypes(protoFromSchemas(maze.schema, { package: "openenv.upstream.maze.v1" }));
    expect(() => t.observation.decode({ legal_actions: [0, "x"] })).toThrow("legal_actions[1]: expected an integer, got string");
    expect(() => t.observation.decode([])).toThrow("expected an object, got a list");
  });

  it("derives the package from the environment's name", () => {
    expect(defaultPackage("EchoEnvironment")).toBe("openenv.upstream.echo.v1");
    expect(defaultPackage("maze_env")).toBe("openenv.upstream.maze.v1");
    expect(defaultPackage("Connect4Env")).toBe("openenv.upstream.connect4.v1");
  });
});

describe("protovalidate rules for every kind of field", () => {
  // One action with every constraint the generator maps; the observation and state are connect4's.
  const connect4 = fixtures.find((f) => f.name === "connect4_env") as Fixture;
  const action = {
    title: "RulesAction",
    type: "object",
    properties: {
      scores: { type: "array", items: { type: "integer", minimum: 0, maximum: 100 }, minItems: 1, maxItems: 3 },
      codes: { type: "array", items: { type: "string", pattern: "^[a-z]{2,4}$" }, default: [] },
      name: { type: "string", minLength: 1, maxLength: 4, default: "ab" },
      blob: { type: "string", contentEncoding: "base64", maxLength: 8, default: "" },
      ratio: { type: "number", minimum: 0, maximum: 1, default: 0 },
      big: { type: "integer", minimum: -1, maximum: 10_000_000_000, default: 0 },
      count: { type: "integer", minimum: 0, maximum: 4_000_000_000, default: 0 },
      labels: { type: "object", additionalProperties: { type: "string" }, minProperties: 1, maxProperties: 2 },
      extra: { type: "object", minProperties: 1, default: {} },
      word: { type: "string", pattern: "^.+$", default: "" },
      spaced: { type: "string", pattern: "\\s", default: "" },
      mode: { enum: ["fast", "slow"] },
      kind: { const: "rules", default: "rules" },
    },
    required: ["mode", "scores", "labels"],
  };
  const generated = protoFromSchemas({ ...connect4.schema, action }, { package: "openenv.upstream.rules.v1" });
  const types = loadTypes(generated);
  const schema = types.action.schema;
  const validator = createValidator();
  const valid = {
    scores: [0, 100],
    codes: ["ab"],
    name: "abcd",
    ratio: 1,
    big: 10_000_000_000,
    count: 4_000_000_000,
    labels: { a: "x" },
    mode: "fast",
  };

  it("writes the typed rules each field's type takes", () => {
    const line = (name: string): string => {
      const m = new RegExp(`\\n  [^\\n]* ${name} = \\d+( \\[[^;]*\\])?;`).exec(generated.text);
      return m?.[0].replace(/\s+/g, " ").trim() ?? "";
    };
    expect(line("scores")).toBe(
      "repeated int32 scores = 1 [ (buf.validate.field).repeated.min_items = 1, (buf.validate.field).repeated.max_items = 3, " +
        "(buf.validate.field).repeated.items.int32.lte = 100, (buf.validate.field).repeated.items.int32.gte = 0 ];",
    );
    expect(line("codes")).toBe('repeated string codes = 2 [(buf.validate.field).repeated.items.string.pattern = "^[a-z]{2,4}$"];');
    expect(line("name")).toContain("(buf.validate.field).string.min_len = 1, (buf.validate.field).string.max_len = 4");
    expect(line("blob")).toBe("bytes blob = 4 [(buf.validate.field).bytes.max_len = 8];");
    expect(line("ratio")).toContain("(buf.validate.field).double.lte = 1, (buf.validate.field).double.gte = 0");
    expect(line("big")).toContain("(buf.validate.field).int64.lte = 10000000000, (buf.validate.field).int64.gte = -1");
    expect(line("count")).toBe("uint32 count = 7 [(buf.validate.field).uint32.lte = 4000000000];");
    expect(line("labels")).toContain("(buf.validate.field).map.min_pairs = 1, (buf.validate.field).map.max_pairs = 2");
    expect(line("mode")).toBe("RulesAction.Mode mode = 12 [(buf.validate.field).required = true];");
    expect(line("kind")).toContain('(buf.validate.field).string.in = "", (buf.validate.field).string.in = "rules"');
    // What protovalidate cannot say (a Struct's size) or RE2 reads differently stays the upstream's, named in the comment.
    expect(line("extra")).toBe("google.protobuf.Struct extra = 9;");
    expect(generated.text).toContain("// Checked by the upstream only: minProperties 1.");
    expect(line("word")).toBe("string word = 10;");
    expect(line("spaced")).toBe("string spaced = 11;");
    expect(generated.text).toContain(
      'The pattern "^.+$" is outside the subset RE2 and ECMAScript read alike: checked by the upstream only.',
    );
  });

  it("passes buf build and buf lint, whose PROTOVALIDATE rule checks each rule against its field", async () => {
    const dir = mkdtempSync(join(tmpdir(), "i12-rules-"));
    try {
      mkdirSync(join(dir, "buf", "validate"), { recursive: true });
      copyFileSync(join(repo, "proto", "buf", "validate", "validate.proto"), join(dir, "buf", "validate", "validate.proto"));
      writeFileSync(join(dir, "buf.yaml"), "version: v2\nlint:\n  use: [STANDARD, COMMENTS]\n  ignore: [buf/validate]\n");
      mkdirSync(join(dir, dirname(generated.model.path)), { recursive: true });
      writeFileSync(join(dir, generated.model.path), generated.text);
      await exec(buf, ["lint"], { cwd: dir, timeout: 120_000 });
      await exec(buf, ["format", "--diff", "--exit-code"], { cwd: dir, timeout: 120_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it.each([
    ["valid", {}],
    ["too many scores, one out of range", { scores: [1, 2, 101, 4] }],
    ["a negative score", { scores: [-1] }],
    ["no scores", { scores: [] }],
    ["a code that breaks the pattern", { codes: ["ab", "ABC", "abcde"] }],
    ["a long name", { name: "abcde" }],
    ["long bytes", { blob: "AAAAAAAAAAAA" }],
    ["ratio out of range", { ratio: 1.5 }],
    ["big below its bound", { big: -2 }],
    ["count above its bound", { count: 4_100_000_000 }],
    ["too many labels", { labels: { a: "1", b: "2", c: "3" } }],
    ["no labels", { labels: {} }],
    ["mode unset", { mode: null }],
    ["a non-constant kind", { kind: "other" }],
  ])("%s: the gateway's validator and protovalidate (RE2) find the same fields", (_label, change) => {
    const json = Object.fromEntries(Object.entries({ ...valid, ...change }).filter(([, v]) => v !== null));
    const message = types.action.decode(json as JsonObject);
    const ours = validateMessage(schema, message).map((v) => v.field);
    const result = validator.validate(schema, message);
    expect(result.kind).not.toBe("error");
    const theirs = (result.violations ?? []).map((v) => pathToString(v.field));
    expect(new Set(ours)).toEqual(new Set(theirs));
    expect(ours.length > 0).toBe(Object.keys(change).length > 0);
  });
});

describe("our own servers' /schema maps back to wire-compatible messages", () => {
  // What `openenv gateway --package openenv.envs.<env>.v1` serves in front of `openenv serve <env>`:
  // the same names, numbers and wire types, so clients generated for the bundled env work through it.
  it.each(["echo", "maze", "wordle", "connect4"])("%s", async (key) => {
    const spec = toFactory(await (bundledEnvironments[key] as () => Promise<never>)()).spec;
    const pkg = spec.action.typeName.slice(0, spec.action.typeName.lastIndexOf("."));
    const types = loadTypes(protoFromSchemas(jsonSchemasOf(spec), { package: pkg }));
    const differences = [
      ...compare(spec.action, types.action.schema),
      ...compare(spec.observation, types.observation.schema),
      ...compare(spec.state, types.state.schema),
    ];
    // The state's extra-keys field (additionalProperties: true) is the only addition; `optional`
    // scalars the JSON Schema shows with a zero default lose explicit presence (same wire format).
    expect(differences.filter((d) => !d.endsWith(": added additional_properties") && !d.includes("presence"))).toEqual([]);
  });
});

function compare(a: DescMessage, b: DescMessage, seen = new Set<string>()): string[] {
  if (seen.has(a.typeName)) return [];
  seen.add(a.typeName);
  const out: string[] = [];
  if (a.typeName !== b.typeName) out.push(`${a.typeName}: named ${b.typeName}`);
  for (const f of a.fields) {
    const g = b.fields.find((x) => x.number === f.number);
    const kind = (x: DescField) =>
      `${x.fieldKind} ${x.scalar ?? ""} ${x.fieldKind === "list" ? x.listKind : ""} ${x.fieldKind === "map" ? x.mapKind : ""} ${x.message?.typeName ?? x.enum?.typeName ?? ""}`;
    if (g === undefined) out.push(`${a.typeName}: lost ${f.name}`);
    else if (g.name !== f.name || kind(f) !== kind(g)) out.push(`${a.typeName}.${f.name}: ${kind(f)} became ${g.name} ${kind(g)}`);
    else if (g.presence !== f.presence) out.push(`${a.typeName}.${f.name}: presence`);
    if (g?.message !== undefined && f.message !== undefined && !f.message.typeName.startsWith("google."))
      out.push(...compare(f.message, g.message, seen));
  }
  for (const g of b.fields) if (!a.fields.some((x) => x.number === g.number)) out.push(`${a.typeName}: added ${g.name}`);
  return out;
}

describe("openenv proto (CLI)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "i17-proto-cli-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cli = async (args: string[]) => {
    let out = "";
    let err = "";
    const code = await run(args, { out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  };

  it("prints the package for a saved /schema answer, named after the file", async () => {
    const maze = fixtures.find((f) => f.name === "maze_env") as Fixture;
    const file = join(dir, "maze_env.json");
    writeFileSync(file, JSON.stringify(maze.schema));
    const { code, out } = await cli(["proto", "--schema", file]);
    expect(code).toBe(0);
    expect(out).toContain("package openenv.upstream.maze.v1;");
    expect(out).toContain("message MazeAction {");
  });

  it("writes the file and protovalidate's validate.proto it imports under --out", async () => {
    const c4 = fixtures.find((f) => f.name === "connect4_env") as Fixture;
    const file = join(dir, "c4.json");
    writeFileSync(file, JSON.stringify(c4.schema));
    const out = join(dir, "out");
    const { code, err } = await cli(["proto", "--schema", file, "--package", "acme.connect4.v1", "--out", out]);
    expect(code).toBe(0);
    expect(err).toContain("acme/connect4/v1/connect4.proto");
    expect(readdirSync(join(out, "acme", "connect4", "v1"))).toEqual(["connect4.proto"]);
    expect(readFileSync(join(out, "buf", "validate", "validate.proto"), "utf8")).toBe(
      readFileSync(join(repo, "proto", "buf", "validate", "validate.proto"), "utf8"),
    );
    expect(readFileSync(join(out, "acme", "connect4", "v1", "connect4.proto"), "utf8")).toContain("(buf.validate.field).int32.lte = 6");
    // The written directory is a buf module as it stands.
    await exec(buf, ["build", out], { timeout: 120_000 });
  });

  it("refuses bad arguments with usage errors", async () => {
    expect((await cli(["proto"])).code).toBe(2);
    const notSchema = join(dir, "x.json");
    writeFileSync(notSchema, "{}");
    const r = await cli(["proto", "--schema", notSchema]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("is not a /schema answer");
    expect((await cli(["proto", "--schema", notSchema, "--package", "Bad.Pkg"])).code).toBe(2);
  });
});
