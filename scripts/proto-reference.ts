/**
 * Writes docs/proto-reference.md: a Markdown reference of the contract (every
 * service, method, message, field, enum and extension of `openenv.v1` and of
 * the bundled environments' `openenv.envs.*` packages), with the proto
 * comments as descriptions.
 *
 * Input is a `buf build` image with source info (so the comments are there),
 * read as a FileDescriptorSet: no remote plugin, no network. Run with
 * `npm run docs:proto`; CI fails when the committed page differs.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  createFileRegistry,
  type DescEnum,
  type DescExtension,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescService,
  fromBinary,
  ScalarType,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { getComments } from "@bufbuild/protoplugin";
import { fieldRules as rulesOf } from "../src/protocol/validate.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const output = join(root, "docs", "proto-reference.md");

/** The files of the buf module as a FileDescriptorSet, comments included. */
function buildImage(): Uint8Array {
  const buf = join(root, "node_modules", ".bin", "buf");
  return execFileSync(buf, ["build", "--as-file-descriptor-set", "-o", "-#format=binpb"], { cwd: root, maxBuffer: 64 << 20 });
}

/** GitHub's heading anchor of a heading text. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function heading(name: string): string {
  return `\`${name}\``;
}

function link(typeName: string, documented: ReadonlySet<string>): string {
  return documented.has(typeName) ? `[\`${typeName}\`](#${anchor(heading(typeName))})` : `\`${typeName}\``;
}

/** A comment as a paragraph (proto comments are wrapped prose, one space of indent). */
function paragraph(text: string | undefined): string {
  if (text === undefined) return "";
  return text
    .split("\n")
    .map((line) => line.replace(/^ /, ""))
    .join("\n")
    .trim();
}

/** A comment as one table cell. */
function cell(text: string | undefined): string {
  return paragraph(text)
    .replace(/\s*\n\s*/g, " ")
    .replace(/\|/g, "\\|");
}

function scalarName(t: ScalarType): string {
  return ScalarType[t].toLowerCase();
}

function fieldType(field: DescField | DescExtension, documented: ReadonlySet<string>): string {
  switch (field.fieldKind) {
    case "scalar":
      return `\`${scalarName(field.scalar)}\``;
    case "enum":
      return link(field.enum.typeName, documented);
    case "message":
      return link(field.message.typeName, documented);
    case "list":
      return `repeated ${
        field.listKind === "scalar"
          ? `\`${scalarName(field.scalar)}\``
          : link(field.listKind === "enum" ? field.enum.typeName : field.message.typeName, documented)
      }`;
    case "map": {
      const value =
        field.mapKind === "scalar"
          ? `\`${scalarName(field.scalar)}\``
          : link(field.mapKind === "enum" ? field.enum.typeName : field.message.typeName, documented);
      return `map<\`${scalarName(field.mapKey)}\`, ${value}>`;
    }
  }
}

function label(field: DescField): string {
  if (field.oneof !== undefined) return `oneof \`${field.oneof.name}\``;
  if (field.proto.proto3Optional) return "optional";
  return "";
}

/** The field's rules (`(buf.validate.field)`, or the older `(openenv.v1.rules)`), e.g. `max_len = 1048576`. */
function fieldRules(field: DescField): string {
  const r = rulesOf(field);
  if (r === undefined) return "";
  const parts: string[] = [];
  if (r.required) parts.push("required");
  if (r.minLen !== undefined) parts.push(`min_len = ${r.minLen}`);
  if (r.maxLen !== undefined) parts.push(`max_len = ${r.maxLen}`);
  if (r.gte !== undefined) parts.push(`gte = ${r.gte}`);
  if (r.lte !== undefined) parts.push(`lte = ${r.lte}`);
  if (r.pattern !== undefined) parts.push(`pattern = \`${r.pattern}\``);
  if (r.allowed.length > 0) parts.push(`allowed = ${r.allowed.map((a) => `\`${a}\``).join(", ")}`);
  return parts.join("; ");
}

function renderService(service: DescService, documented: ReadonlySet<string>): string[] {
  const lines = [`### ${heading(service.typeName)}`, "", paragraph(getComments(service).leading), ""];
  lines.push("| Method | Request | Response | Kind |", "| --- | --- | --- | --- |");
  for (const method of service.methods) {
    const kind = {
      unary: "unary",
      server_streaming: "server streaming",
      client_streaming: "client streaming",
      bidi_streaming: "bidirectional streaming",
    }[method.methodKind];
    const noSideEffects = method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS ? ", no side effects (Connect GET)" : "";
    const streamIn = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming" ? "stream " : "";
    const streamOut = method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming" ? "stream " : "";
    lines.push(
      `| [${method.name}](#${anchor(`${service.typeName}.${method.name}`)}) | ${streamIn}${link(method.input.typeName, documented)} | ${streamOut}${link(method.output.typeName, documented)} | ${kind}${noSideEffects} |`,
    );
  }
  lines.push("");
  for (const method of service.methods) {
    lines.push(`#### ${service.typeName}.${method.name}`, "", paragraph(getComments(method).leading), "");
    lines.push(`HTTP path: \`/${service.typeName}/${method.name}\``, "");
  }
  return lines;
}

function renderMessage(message: DescMessage, documented: ReadonlySet<string>): string[] {
  const lines = [`### ${heading(message.typeName)}`, "", paragraph(getComments(message).leading), ""];
  if (message.fields.length === 0) {
    lines.push("No fields.", "");
  } else {
    const withRules = message.fields.some((f) => fieldRules(f) !== "");
    lines.push(
      `| Field | No. | Type | Label | Description |${withRules ? " Rules |" : ""}`,
      `| --- | ---: | --- | --- | --- |${withRules ? " --- |" : ""}`,
    );
    for (const field of message.fields) {
      const row = `| \`${field.name}\` | ${field.number} | ${fieldType(field, documented)} | ${label(field)} | ${cell(getComments(field).leading)} |`;
      lines.push(withRules ? `${row} ${fieldRules(field)} |` : row);
    }
    lines.push("");
    for (const oneof of message.oneofs) {
      const comment = cell(getComments(oneof).leading);
      lines.push(
        `Oneof \`${oneof.name}\`${comment ? `: ${comment}` : ""} At most one of ${oneof.fields.map((f) => `\`${f.name}\``).join(", ")}.`,
        "",
      );
    }
  }
  for (const nested of message.nestedMessages) lines.push(...renderMessage(nested, documented));
  for (const nested of message.nestedEnums) lines.push(...renderEnum(nested));
  return lines;
}

function renderEnum(e: DescEnum): string[] {
  const lines = [`### ${heading(e.typeName)}`, "", paragraph(getComments(e).leading), ""];
  lines.push("| Value | Number | Description |", "| --- | ---: | --- |");
  for (const value of e.values) lines.push(`| \`${value.name}\` | ${value.number} | ${cell(getComments(value).leading)} |`);
  lines.push("");
  return lines;
}

function renderExtension(ext: DescExtension, documented: ReadonlySet<string>): string[] {
  return [
    `### ${heading(`(${ext.typeName})`)}`,
    "",
    paragraph(getComments(ext).leading),
    "",
    `Extends \`${ext.extendee.typeName}\`, field ${ext.number}, type ${fieldType(ext, documented)}.`,
    "",
  ];
}

function fileOrder(a: DescFile, b: DescFile): number {
  const rank = (f: DescFile): number =>
    f.proto.name === "openenv/v1/environment_service.proto" ? 0 : f.proto.name.startsWith("openenv/v1/") ? 1 : 2;
  return rank(a) - rank(b) || a.proto.name.localeCompare(b.proto.name);
}

function allMessages(messages: readonly DescMessage[]): DescMessage[] {
  return messages.flatMap((m) => [m, ...allMessages(m.nestedMessages)]);
}

export function render(image: Uint8Array): string {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, image));
  // The service and the environments; test and benchmark fixtures (openenv/testing, openenv/bench) are not API.
  const files = [...registry.files].filter((f) => f.name.startsWith("openenv/v1/") || f.name.startsWith("openenv/envs/")).sort(fileOrder);
  const documented = new Set<string>();
  for (const file of files) {
    for (const m of allMessages(file.messages)) {
      documented.add(m.typeName);
      for (const e of m.nestedEnums) documented.add(e.typeName);
    }
    for (const e of file.enums) documented.add(e.typeName);
  }
  const lines = [
    "# Proto reference",
    "",
    "<!-- Generated by `npm run docs:proto` (scripts/proto-reference.ts) from `buf build` of proto/. Do not edit; CI checks it is current. -->",
    "",
    "The contract of openenv-connect: the `openenv.v1.EnvironmentService` every server speaks, and the",
    "message types of the bundled environments. Descriptions are the comments of the `.proto` files",
    "(`buf lint` requires one on every element). Types named `google.protobuf.*` are the",
    "[well-known types](https://protobuf.dev/reference/protobuf/google.protobuf/).",
    "",
    "Files:",
    "",
    ...files.map((f) => `- [\`${f.proto.name}\`](#${anchor(f.proto.name)}) (package \`${f.proto.package}\`)`),
    "",
  ];
  for (const file of files) {
    lines.push(`## ${file.proto.name}`, "", `Package \`${file.proto.package}\`.`, "");
    for (const service of file.services) lines.push(...renderService(service, documented));
    for (const message of file.messages) lines.push(...renderMessage(message, documented));
    for (const e of file.enums) lines.push(...renderEnum(e));
    for (const ext of file.extensions) lines.push(...renderExtension(ext, documented));
  }
  return `${lines
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(output, render(buildImage()));
  process.stdout.write(`wrote ${output}\n`);
}
