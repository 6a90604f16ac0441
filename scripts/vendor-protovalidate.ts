// Writes proto/buf/validate/validate.proto from the descriptor that
// @bufbuild/protovalidate embeds in its generated code (`npm run vendor:protovalidate`).
//
// buf resolves `import "buf/validate/validate.proto"` from the Buf Schema Registry,
// which this toolchain never contacts, and no npm or Debian package ships the .proto
// source: the npm package carries only its compiled descriptor. This prints that
// descriptor back as proto2 source (without comments), and checks that buf compiles
// it to the same descriptor (test/protovalidate-vendor.test.ts repeats the check).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  createRegistry,
  type DescExtension,
  type DescMessage,
  getExtension,
  hasExtension,
  isFieldSet,
  type Message,
} from "@bufbuild/protobuf";
import { type ReflectMessage, reflect } from "@bufbuild/protobuf/reflect";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_field_mask,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { protoString as quote } from "../src/gateway/field-rules.js";

const file = file_buf_validate_validate;
const registry = createRegistry(
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_field_mask,
  file_google_protobuf_timestamp,
  file,
);
const extensions: DescExtension[] = [...registry].filter((t): t is DescExtension => t.kind === "extension");

/** A message value in text format, as an option's aggregate value. */
function text(m: ReflectMessage): string {
  const parts: string[] = [];
  for (const f of m.fields) {
    if (!m.isSet(f)) continue;
    const one = (v: unknown): string => {
      if (f.fieldKind === "message" || (f.fieldKind === "list" && f.listKind === "message")) return text(v as ReflectMessage);
      if (f.fieldKind === "enum" || (f.fieldKind === "list" && f.listKind === "enum")) {
        return f.enum?.values.find((e) => e.number === v)?.name ?? String(v);
      }
      if (typeof v === "string") return quote(v);
      return String(v);
    };
    if (f.fieldKind === "list") {
      const list = m.get(f) as Iterable<unknown>;
      parts.push(`${f.name}: [${[...list].map(one).join(", ")}]`);
    } else if (f.fieldKind === "map") {
      throw new Error(`map in an option value: ${f.name}`);
    } else {
      parts.push(`${f.name}: ${one(m.get(f))}`);
    }
  }
  return `{${parts.join(" ")}}`;
}

/** The options of a descriptor element, as `name = value` pairs (standard fields, then our extensions). */
function options(opts: Message | undefined): string[] {
  if (opts === undefined) return [];
  const out: string[] = [];
  const r = reflect(registry.getMessage(opts.$typeName) as DescMessage, opts);
  for (const f of r.fields) {
    if (!r.isSet(f) || f.name === "uninterpreted_option") continue;
    if (f.fieldKind !== "scalar" && f.fieldKind !== "enum") throw new Error(`unexpected option ${f.name}`);
    const v = r.get(f);
    out.push(
      `${f.name} = ${typeof v === "string" ? quote(v) : f.fieldKind === "enum" ? f.enum.values.find((e) => e.number === v)?.name : String(v)}`,
    );
  }
  for (const ext of extensions) {
    if (ext.extendee.typeName !== opts.$typeName || !hasExtension(opts, ext)) continue;
    const v = getExtension(opts, ext);
    const value = ext.fieldKind === "message" ? text(reflect(ext.message, v as Message)) : String(v);
    out.push(`(${ext.typeName}) = ${value}`);
  }
  return out;
}

const SCALARS: Partial<Record<FieldDescriptorProto_Type, string>> = {
  [FieldDescriptorProto_Type.DOUBLE]: "double",
  [FieldDescriptorProto_Type.FLOAT]: "float",
  [FieldDescriptorProto_Type.INT64]: "int64",
  [FieldDescriptorProto_Type.UINT64]: "uint64",
  [FieldDescriptorProto_Type.INT32]: "int32",
  [FieldDescriptorProto_Type.FIXED64]: "fixed64",
  [FieldDescriptorProto_Type.FIXED32]: "fixed32",
  [FieldDescriptorProto_Type.BOOL]: "bool",
  [FieldDescriptorProto_Type.STRING]: "string",
  [FieldDescriptorProto_Type.BYTES]: "bytes",
  [FieldDescriptorProto_Type.UINT32]: "uint32",
  [FieldDescriptorProto_Type.SFIXED32]: "sfixed32",
  [FieldDescriptorProto_Type.SFIXED64]: "sfixed64",
  [FieldDescriptorProto_Type.SINT32]: "sint32",
  [FieldDescriptorProto_Type.SINT64]: "sint64",
};

function field(f: FieldDescriptorProto, indent: string, inOneof: boolean): string {
  const type = SCALARS[f.type] ?? f.typeName;
  const label = inOneof
    ? ""
    : f.label === FieldDescriptorProto_Label.REPEATED
      ? "repeated "
      : f.label === FieldDescriptorProto_Label.REQUIRED
        ? "required "
        : "optional ";
  const opts = options(f.options);
  if (isFieldSet(f, FieldDescriptorProtoSchema.field.defaultValue))
    opts.unshift(`default = ${f.type === FieldDescriptorProto_Type.STRING ? quote(f.defaultValue) : f.defaultValue}`);
  return `${indent}${label}${type} ${f.name} = ${f.number}${opts.length > 0 ? ` [${opts.join(", ")}]` : ""};`;
}

function enumeration(e: EnumDescriptorProto, indent: string): string[] {
  const out = [`${indent}enum ${e.name} {`];
  for (const o of options(e.options)) out.push(`${indent}  option ${o};`);
  for (const v of e.value) {
    const opts = options(v.options);
    out.push(`${indent}  ${v.name} = ${v.number}${opts.length > 0 ? ` [${opts.join(", ")}]` : ""};`);
  }
  // Enum reserved ranges are inclusive, message ones exclusive.
  for (const r of e.reservedRange) out.push(`${indent}  reserved ${r.start === r.end ? r.start : `${r.start} to ${r.end}`};`);
  for (const n of e.reservedName) out.push(`${indent}  reserved ${quote(n)};`);
  out.push(`${indent}}`);
  return out;
}

function inOneof(f: FieldDescriptorProto): boolean {
  return isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional;
}

function message(m: DescriptorProto, indent: string): string[] {
  const out = [`${indent}message ${m.name} {`];
  const inner = `${indent}  `;
  for (const o of options(m.options)) out.push(`${inner}option ${o};`);
  for (const n of m.nestedType) out.push(...message(n, inner));
  for (const e of m.enumType) out.push(...enumeration(e, inner));
  const printedOneofs = new Set<number>();
  for (const f of m.field) {
    if (!inOneof(f)) {
      out.push(field(f, inner, false));
      continue;
    }
    if (printedOneofs.has(f.oneofIndex)) continue;
    printedOneofs.add(f.oneofIndex);
    const decl = m.oneofDecl[f.oneofIndex];
    out.push(`${inner}oneof ${decl?.name} {`);
    for (const o of options(decl?.options)) out.push(`${inner}  option ${o};`);
    for (const g of m.field) if (inOneof(g) && g.oneofIndex === f.oneofIndex) out.push(field(g, `${inner}  `, true));
    out.push(`${inner}}`);
  }
  for (const r of m.extensionRange) {
    const end = r.end === 536870912 ? "max" : String(r.end - 1);
    const opts = options(r.options);
    out.push(`${inner}extensions ${r.start} to ${end}${opts.length > 0 ? ` [${opts.join(", ")}]` : ""};`);
  }
  for (const r of m.reservedRange) out.push(`${inner}reserved ${r.start === r.end - 1 ? r.start : `${r.start} to ${r.end - 1}`};`);
  for (const n of m.reservedName) out.push(`${inner}reserved ${quote(n)};`);
  if (m.extension.length > 0) throw new Error(`nested extensions in ${m.name}`);
  out.push(`${indent}}`);
  return out;
}

const proto = file.proto;
if (proto.syntax !== "" && proto.syntax !== "proto2") throw new Error(`unexpected syntax ${proto.syntax}`);
const lines: string[] = [
  "// Generated by scripts/vendor-protovalidate.ts from the descriptor embedded in",
  `// @bufbuild/protovalidate (npm): protovalidate's own proto, without its comments.`,
  "// Copyright 2023-2025 Buf Technologies, Inc. Licensed under the Apache License, Version 2.0.",
  "// Regenerate with `npm run vendor:protovalidate`; do not edit.",
  'syntax = "proto2";',
  "",
  `package ${proto.package};`,
  "",
  ...proto.dependency.map((d) => `import ${quote(d)};`),
  "",
  ...options(proto.options).map((o) => `option ${o};`),
  "",
];
const byExtendee = new Map<string, FieldDescriptorProto[]>();
for (const x of proto.extension) byExtendee.set(x.extendee, [...(byExtendee.get(x.extendee) ?? []), x]);
for (const [extendee, xs] of byExtendee) {
  lines.push(`extend ${extendee} {`, ...xs.map((x) => field(x, "  ", false)), "}", "");
}
for (const m of proto.messageType) lines.push(...message(m, ""), "");
for (const e of proto.enumType) lines.push(...enumeration(e, ""), "");
const out = new URL("../proto/buf/validate/validate.proto", import.meta.url);
writeFileSync(out, `${lines.join("\n").trimEnd()}\n`);
execFileSync(fileURLToPath(new URL("../node_modules/.bin/buf", import.meta.url)), ["format", "-w", fileURLToPath(out)]);
console.log(`wrote ${fileURLToPath(out)}`);
