import { parseArgs } from "node:util";
import { type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { environmentFromPath, findEnvironment } from "../../auto/discovery.js";
import { loadEnvironment } from "../../auto/load.js";
import { formatIssue } from "../../auto/manifest.js";
import { enumValueNames } from "../../protocol/enum-names.js";
import { jsonSchemasOf } from "../../server/environment-service.js";
import { type Command, ExitCode, table, UsageError } from "../common.js";
import { looksLikePath } from "./serve.js";

export const infoCommand: Command = {
  name: "info",
  summary: "Show an environment's manifest, messages and fields",
  help: `Usage: openenv info NAME|PATH [--json] [--project DIR]

Shows what the manifest says (version, package, module, image, message types)
and, after importing the module, the fields of the Action, Observation and
State messages. Any name form works: echo, echo-env, echo_env, echo-env:latest.

Options:
  --json           print JSON (includes the JSON Schemas of the messages)
  --project DIR    project whose node_modules are scanned (default: .)

Examples:
  openenv info echo
  openenv info ./my-env --json
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: "boolean" }, project: { type: "string" } },
    });
    const name = positionals[0];
    if (name === undefined || positionals.length > 1) throw new UsageError("expected one environment name or path");
    const info = looksLikePath(name) ? environmentFromPath(name) : findEnvironment(name, { projectDir: values.project });
    const loaded = await loadEnvironment(info);
    const spec = loaded.spec;
    if (values.json) {
      io.out(
        `${JSON.stringify(
          {
            env_key: info.envKey,
            name: info.name,
            version: info.version,
            description: info.description,
            source: info.source,
            package: info.package,
            manifest: info.manifestPath,
            module: loaded.module.path,
            env_class: info.envClass,
            action_class: info.actionClass,
            observation_class: info.observationClass,
            state_class: info.stateClass,
            action: info.actionType,
            observation: info.observationType,
            state: info.stateType,
            default_image: info.defaultImage,
            port: info.port,
            spec_version: info.specVersion,
            concurrent_sessions: spec.supportsConcurrentSessions !== false,
            schemas: jsonSchemasOf(spec),
          },
          null,
          2,
        )}\n`,
      );
      return ExitCode.ok;
    }
    const rows: string[][] = [
      ["name", `${info.envKey} (${info.name})`],
      ["version", info.version],
      ["description", info.description],
      ["source", info.source === "installed" ? `installed package ${info.package}@${info.packageVersion ?? "?"}` : info.source],
      ["manifest", info.manifestPath],
      ["module", `${loaded.module.path} (${loaded.module.kind})`],
      ["class", info.envClass],
      ["image", info.defaultImage],
      ["port", String(info.port)],
      ["concurrent", spec.supportsConcurrentSessions === false ? "no (one session per process)" : "yes"],
    ];
    io.out(`${table(rows)}\n`);
    for (const [label, schema] of [
      ["Action", spec.action],
      ["Observation", spec.observation],
      ["State", spec.state],
    ] as const) {
      io.out(`\n${label}: ${schema.typeName}\n${fieldTable(schema)}\n`);
    }
    for (const w of info.warnings) io.err(`warning: ${formatIssue(w)}\n`);
    return ExitCode.ok;
  },
};

function fieldTable(schema: DescMessage): string {
  if (schema.fields.length === 0) return "  (no fields)";
  return table(schema.fields.map((f) => [" ", f.name, fieldType(f)]));
}

function fieldType(f: DescField): string {
  switch (f.fieldKind) {
    case "scalar":
      return ScalarType[f.scalar].toLowerCase();
    case "enum":
      return `enum ${f.enum.typeName}: ${enumValueNames(f.enum).join(", ")}`;
    case "message":
      return f.message.typeName;
    case "list":
      return `repeated ${f.listKind === "scalar" ? ScalarType[f.scalar].toLowerCase() : f.listKind === "enum" ? `${f.enum.typeName}: ${enumValueNames(f.enum).join(", ")}` : f.message.typeName}`;
    case "map":
      return `map<${ScalarType[f.mapKey].toLowerCase()}, ${f.mapKind === "scalar" ? ScalarType[f.scalar].toLowerCase() : f.mapKind === "enum" ? f.enum.typeName : f.message.typeName}>`;
  }
}
