import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { type DescField, type DescMessage, equals, fromBinary, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../src/cli/main.js";
import { bundledEnvironments } from "../../src/envs/bundled.js";
import { defaultPackage, loadTypes, protoFromSchemas, SchemaMismatchError } from "../../src/gateway/generate.js";
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
    mkdirSync(join(dir, "openenv", "v1"), { recursive: true });
    copyFileSync(join(repo, "proto", "openenv", "v1", "options.proto"), join(dir, "openenv", "v1", "options.proto"));
    writeFileSync(join(dir, "buf.yaml"), "version: v2\nlint:\n  use: [STANDARD, COMMENTS]\n  ignore: [openenv/v1]\n");
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
    expect(generated.text).toMatch(
      /string code = \d+ \[\n\s+\(openenv\.v1\.rules\)\.min_len = 3,\n\s+\(openenv\.v1\.rules\)\.max_len = 3,\n\s+\(openenv\.v1\.rules\)\.pattern = "\^\[A-Z\]\{3\}\$"\n\s+\];/,
    );
    expect(generated.text).toContain("repeated int64 window = 13 [");
    expect(generated.text).toContain("optional uint64 gt_zero = 15 [(openenv.v1.rules).gte = 1];");
    const fieldLines = generated.text.split("\n").filter((l) => /^\s+(optional |repeated )?[\w.<>, ]+ \w+ = \d+/.test(l));
    expect(fieldLines.length).toBeGreaterThan(30);
    // Every field but a wrapper's `values` and a oneof member is preceded by its "Source:" line.
    expect((generated.text.match(/\/\/ Source: /g) ?? []).length).toBeGreaterThan(30);
    // Rules are enforced when the gateway decodes a client's action.
    const connect4 = fixtures.find((f) => f.name === "connect4_env") as Fixture;
    const c4 = protoFromSchemas(connect4.schema, { package: "openenv.upstream.connect4.v1" });
    expect(c4.text).toContain("int32 column = 2 [\n    (openenv.v1.rules).gte = 0,\n    (openenv.v1.rules).lte = 6\n  ];");
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

  it("writes the file and the options it imports under --out", async () => {
    const c4 = fixtures.find((f) => f.name === "connect4_env") as Fixture;
    const file = join(dir, "c4.json");
    writeFileSync(file, JSON.stringify(c4.schema));
    const out = join(dir, "out");
    const { code, err } = await cli(["proto", "--schema", file, "--package", "acme.connect4.v1", "--out", out]);
    expect(code).toBe(0);
    expect(err).toContain("acme/connect4/v1/connect4.proto");
    expect(readdirSync(join(out, "acme", "connect4", "v1"))).toEqual(["connect4.proto"]);
    expect(readFileSync(join(out, "openenv", "v1", "options.proto"), "utf8")).toContain("message FieldRules");
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
