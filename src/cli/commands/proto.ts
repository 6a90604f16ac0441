import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import type { JsonValue } from "@bufbuild/protobuf";
import { packageRoot } from "../../auto/modules.js";
import { rulesImport } from "../../gateway/field-rules.js";
import { defaultPackage, type EnvironmentSchemas, protoFromSchemas } from "../../gateway/generate.js";
import { fetchUpstreamSchemas, schemasOf } from "../../gateway/upstream-schemas.js";
import { type Command, ExitCode, jsonArgument, UsageError } from "../common.js";

export const protoCommand: Command = {
  name: "proto",
  summary: "Write a proto package for an OpenEnv environment from its /schema",
  help: `Usage: openenv proto --url URL | --schema FILE [options]

Reads the JSON Schemas an OpenEnv environment publishes at /schema (its
Action, Observation and State) and writes a proto3 package for them: enums
from enum/Literal, messages from $defs, optional for nullable fields,
repeated for lists, Struct/Value for free-form dicts and Any, oneof for
unions whose members JSON can tell apart, protovalidate field rules
((buf.validate.field)) from the schema's constraints. A comment on every
field says where it came from; what cannot be mapped is named in a comment
and carried as google.protobuf.Value.
'openenv gateway' serves exactly these types in front of the environment.

Options:
  --url URL        read URL/schema (and URL/metadata for the name)
  --schema FILE    read a saved /schema answer ({"action","observation","state"});
                   - reads stdin
  --package PKG    proto package (default openenv.upstream.<name>.v1)
  --name NAME      environment name for the package (default: /metadata's
                   name, or the schema file's name)
  --out DIR        write DIR/<package path>/<name>.proto, plus
                   DIR/buf/validate/validate.proto (protovalidate's rules)
                   when the file has field rules, instead of printing it

Examples:
  openenv proto --url http://localhost:8001 > echo.proto
  openenv proto --schema schema.json --package acme.maze.v1 --out proto/
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        schema: { type: "string" },
        package: { type: "string" },
        name: { type: "string" },
        out: { type: "string" },
      },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    if ((values.url === undefined) === (values.schema === undefined)) throw new UsageError("give either --url or --schema");
    let schemas: EnvironmentSchemas;
    let name = values.name;
    let source: string;
    if (values.url !== undefined) {
      const upstream = await fetchUpstreamSchemas(values.url);
      schemas = upstream.schemas;
      name ??= upstream.name;
      source = `${values.url.replace(/\/+$/, "")}/schema`;
    } else {
      const file = values.schema as string;
      const text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
      const what = file === "-" ? "stdin" : file;
      const parsed = schemasOf(jsonArgument(what, text) as JsonValue);
      if (parsed === undefined)
        throw new UsageError(`${what} is not a /schema answer: expected an object with "action", "observation" and "state"`);
      schemas = parsed;
      name ??= file === "-" ? "env" : basename(file).replace(/\.[^.]*$/, "");
      source = file === "-" ? "stdin" : basename(file);
    }
    const pkg = values.package ?? defaultPackage(name);
    if (!/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/.test(pkg))
      throw new UsageError(`--package must be a lower_snake_case dotted name, got '${pkg}'`);
    const generated = protoFromSchemas(schemas, { package: pkg, source });
    if (values.out === undefined) {
      io.out(generated.text);
      if (generated.descriptor.dependency.includes(rulesImport)) {
        io.err(`openenv: the file imports ${rulesImport}; it ships in this package's proto/ directory (or use --out)\n`);
      }
      return ExitCode.ok;
    }
    const path = join(values.out, generated.model.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, generated.text);
    io.err(`openenv: wrote ${path}\n`);
    if (generated.descriptor.dependency.includes(rulesImport)) {
      const target = join(values.out, rulesImport);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, readFileSync(join(packageRoot(), "proto", rulesImport)));
      io.err(`openenv: wrote ${target}\n`);
    }
    return ExitCode.ok;
  },
};
