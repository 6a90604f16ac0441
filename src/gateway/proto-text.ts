import { isFieldSet } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProtoSchema,
  type FileDescriptorProto,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { printRules } from "./field-rules.js";

/**
 * Prints a proto3 FileDescriptorProto as .proto source, with the comments of
 * its source_code_info, in the layout `buf format` writes. Covers what the
 * schema mapping produces: messages, nested messages and enums, oneofs,
 * proto3 optional, maps, field options.
 */
export function printProto(file: FileDescriptorProto): string {
  const comments = new Map<string, string>();
  for (const loc of file.sourceCodeInfo?.location ?? []) {
    if (loc.leadingComments !== "") comments.set(loc.path.join("."), loc.leadingComments);
  }
  const out: string[] = [];
  const emitComment = (path: number[], indent: string): void => {
    const text = comments.get(path.join("."));
    if (text === undefined) return;
    for (const line of text.replace(/\n$/, "").split("\n")) out.push(`${indent}//${line}`.trimEnd());
  };
  const scopes = new TypeScopes(file);
  emitComment([12], "");
  out.push(`syntax = "${file.syntax || "proto2"}";`, "", `package ${file.package};`, "");
  if (file.dependency.length > 0) {
    for (const dep of file.dependency) out.push(`import "${dep}";`);
    out.push("");
  }
  const blocks: (() => void)[] = [];
  for (const [i, e] of file.enumType.entries()) blocks.push(() => printEnum(e, [5, i], ""));
  for (const [i, m] of file.messageType.entries()) blocks.push(() => printMessage(m, [4, i], "", [file.package]));
  blocks.forEach((block, i) => {
    if (i > 0) out.push("");
    block();
  });
  return `${out.join("\n")}\n`;

  function printEnum(e: EnumDescriptorProto, path: number[], indent: string): void {
    emitComment(path, indent);
    out.push(`${indent}enum ${e.name} {`);
    e.value.forEach((v, i) => {
      emitComment([...path, 2, i], `${indent}  `);
      out.push(`${indent}  ${v.name} = ${v.number};`);
    });
    out.push(`${indent}}`);
  }

  function printMessage(m: DescriptorProto, path: number[], indent: string, scope: string[]): void {
    emitComment(path, indent);
    out.push(`${indent}message ${m.name} {`);
    const inner = `${indent}  `;
    const here = [...scope, m.name];
    const entries = new Map(m.nestedType.filter((n) => n.options?.mapEntry === true).map((n) => [`.${here.join(".")}.${n.name}`, n]));
    let oneofOpen: number | undefined;
    const closeOneof = (): void => {
      if (oneofOpen !== undefined) out.push(`${inner}}`);
      oneofOpen = undefined;
    };
    m.field.forEach((f, i) => {
      const real = isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional ? f.oneofIndex : undefined;
      if (real !== oneofOpen) {
        closeOneof();
        if (real !== undefined) {
          emitComment([...path, 8, real], inner);
          out.push(`${inner}oneof ${m.oneofDecl[real]?.name} {`);
          oneofOpen = real;
        }
      }
      const fieldIndent = oneofOpen !== undefined ? `${inner}  ` : inner;
      emitComment([...path, 2, i], fieldIndent);
      out.push(...fieldLines(f, fieldIndent, here, entries));
    });
    closeOneof();
    for (const [i, e] of m.enumType.entries()) {
      out.push("");
      printEnum(e, [...path, 4, i], inner);
    }
    for (const [i, n] of m.nestedType.entries()) {
      if (n.options?.mapEntry === true) continue;
      out.push("");
      printMessage(n, [...path, 3, i], inner, here);
    }
    out.push(`${indent}}`);
  }

  function fieldLines(f: FieldDescriptorProto, indent: string, scope: string[], entries: Map<string, DescriptorProto>): string[] {
    let type: string;
    const entry = f.type === Type.MESSAGE ? entries.get(f.typeName) : undefined;
    if (entry !== undefined) {
      const [key, value] = entry.field;
      type = `map<${typeText(key as FieldDescriptorProto, scope)}, ${typeText(value as FieldDescriptorProto, scope)}>`;
    } else {
      const label = f.label === Label.REPEATED ? "repeated " : f.proto3Optional ? "optional " : "";
      type = `${label}${typeText(f, scope)}`;
    }
    const options = [...(f.options?.deprecated === true ? ["deprecated = true"] : []), ...printRules(f.options)];
    const head = `${indent}${type} ${f.name} = ${f.number}`;
    if (options.length === 0) return [`${head};`];
    if (options.length === 1) return [`${head} [${options[0]}];`];
    return [`${head} [`, ...options.map((o, i) => `${indent}  ${o}${i < options.length - 1 ? "," : ""}`), `${indent}];`];
  }

  function typeText(f: FieldDescriptorProto, scope: string[]): string {
    switch (f.type) {
      case Type.MESSAGE:
      case Type.ENUM:
        return scopes.reference(f.typeName, scope);
      default:
        return SCALAR_NAMES[f.type] ?? "bytes";
    }
  }
}

const SCALAR_NAMES: Partial<Record<Type, string>> = {
  [Type.DOUBLE]: "double",
  [Type.FLOAT]: "float",
  [Type.INT64]: "int64",
  [Type.UINT64]: "uint64",
  [Type.INT32]: "int32",
  [Type.FIXED64]: "fixed64",
  [Type.FIXED32]: "fixed32",
  [Type.BOOL]: "bool",
  [Type.STRING]: "string",
  [Type.BYTES]: "bytes",
  [Type.UINT32]: "uint32",
  [Type.SFIXED32]: "sfixed32",
  [Type.SFIXED64]: "sfixed64",
  [Type.SINT32]: "sint32",
  [Type.SINT64]: "sint64",
};

/** Writes type references as short as protoc's scoping rules allow, fully qualified when a nested name would shadow them. */
class TypeScopes {
  /** Full name (no leading dot) → names of the types nested in it. */
  private readonly nested = new Map<string, Set<string>>();

  constructor(private readonly file: FileDescriptorProto) {
    const visit = (m: DescriptorProto, parent: string): void => {
      const full = `${parent}.${m.name}`;
      this.nested.set(full, new Set([...m.nestedType.map((n) => n.name), ...m.enumType.map((e) => e.name)]));
      for (const n of m.nestedType) visit(n, full);
    };
    for (const m of file.messageType) visit(m, file.package);
  }

  reference(typeName: string, scope: string[]): string {
    const full = typeName.replace(/^\./, "");
    const pkg = this.file.package;
    if (!full.startsWith(`${pkg}.`)) return full;
    const relative = full.slice(pkg.length + 1);
    const first = relative.split(".")[0] as string;
    // Inner scopes are searched first: a nested type of the same first name would win.
    for (let i = scope.length; i > 1; i--) {
      const s = scope.slice(0, i).join(".");
      if (this.nested.get(s)?.has(first)) {
        const hit = `${s}.${first}`;
        return full === hit || full.startsWith(`${hit}.`) ? full.slice(s.length + 1) : `.${full}`;
      }
    }
    return relative;
  }
}
