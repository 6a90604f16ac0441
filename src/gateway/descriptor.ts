import { create, createFileRegistry, type DescFile, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  DescriptorProtoSchema,
  type EnumDescriptorProto,
  EnumDescriptorProtoSchema,
  type FieldDescriptorProto,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  file_google_protobuf_struct,
  FieldDescriptorProto_Label as Label,
  type SourceCodeInfo_Location,
  SourceCodeInfo_LocationSchema,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "../../gen/buf/validate/validate_pb.js";
import { applyRules, hasConstraints, rulesImport } from "./field-rules.js";
import { jsonNameOf } from "./names.js";
import type { EnumModel, FieldModel, FileModel, MessageModel, ScalarKind, Shape } from "./proto-model.js";

/**
 * The file model as a FileDescriptorProto, with every comment in its
 * source_code_info: the one artifact that both prints as .proto text
 * (proto-text.ts) and loads at runtime (createFileRegistry), so the gateway
 * serves exactly the types `openenv proto` writes.
 */

// Field numbers of descriptor.proto, for source_code_info paths.
const FILE_MESSAGE = 4;
const FILE_ENUM = 5;
const FILE_SYNTAX = 12;
const MESSAGE_FIELD = 2;
const MESSAGE_NESTED = 3;
const MESSAGE_ENUM = 4;
const MESSAGE_ONEOF = 8;
const ENUM_VALUE = 2;

const SCALAR_TYPES: Record<ScalarKind, Type> = {
  string: Type.STRING,
  bytes: Type.BYTES,
  bool: Type.BOOL,
  double: Type.DOUBLE,
  int32: Type.INT32,
  uint32: Type.UINT32,
  int64: Type.INT64,
  uint64: Type.UINT64,
};

/** Writes the model as a FileDescriptorProto (comments in source_code_info). */
export function fileDescriptorOf(model: FileModel): FileDescriptorProto {
  const locations: SourceCodeInfo_Location[] = [];
  const comment = (path: number[], lines: readonly string[]): void => {
    if (lines.length === 0) return;
    locations.push(
      create(SourceCodeInfo_LocationSchema, {
        path,
        span: [0, 0, 0],
        leadingComments: lines.map((l) => (l === "" ? "\n" : ` ${l}\n`)).join(""),
      }),
    );
  };
  const imports = new Set(model.imports);
  comment([FILE_SYNTAX], model.comment);
  const writer = new Writer(model.package, comment, () => imports.add(rulesImport));
  const enumType = model.enums.map((e, i) => writer.enumType(e, [FILE_ENUM, i]));
  const messageType = model.messages.map((m, i) => writer.message(m, [FILE_MESSAGE, i]));
  return create(FileDescriptorProtoSchema, {
    name: model.path,
    package: model.package,
    syntax: "proto3",
    dependency: [...imports].sort(),
    messageType,
    enumType,
    sourceCodeInfo: { location: locations },
  });
}

/** Loads a generated file at runtime; its imports come from the well-known types and buf/validate/validate.proto. */
export function loadFile(proto: FileDescriptorProto): { registry: FileRegistry; file: DescFile } {
  const known = new Map<string, DescFile>([file_google_protobuf_struct, file_buf_validate_validate].map((f) => [f.proto.name, f]));
  const registry = createFileRegistry(proto, (name) => known.get(name));
  const file = registry.getFile(proto.name);
  if (file === undefined) throw new Error(`${proto.name} did not load`);
  return { registry, file };
}

/** The full name of a model message, e.g. `openenv.upstream.echo.v1.CallToolObservation`. */
export function messageTypeName(pkg: string, message: MessageModel): string {
  const parts: string[] = [];
  for (let m: MessageModel | undefined = message; m !== undefined; m = m.parent) parts.unshift(m.name);
  return `${pkg}.${parts.join(".")}`;
}

/** Finds the runtime schema of a model message in a loaded registry. */
export function runtimeMessage(registry: FileRegistry, pkg: string, message: MessageModel): DescMessage {
  const desc = registry.getMessage(messageTypeName(pkg, message));
  if (desc === undefined) throw new Error(`message ${messageTypeName(pkg, message)} is not in the generated file`);
  return desc;
}

class Writer {
  constructor(
    private readonly pkg: string,
    private readonly comment: (path: number[], lines: readonly string[]) => void,
    private readonly usedRules: () => void,
  ) {}

  message(m: MessageModel, path: number[]): DescriptorProto {
    this.comment(path, m.comment);
    const nestedType: DescriptorProto[] = m.nestedMessages.map((n, i) => this.message(n, [...path, MESSAGE_NESTED, i]));
    const enumType = m.nestedEnums.map((e, i) => this.enumType(e, [...path, MESSAGE_ENUM, i]));
    const oneofDecl = m.oneofs.map((o, i) => {
      this.comment([...path, MESSAGE_ONEOF, i], o.comment);
      return { name: o.name };
    });
    // proto3 `optional` fields each get a synthetic oneof, after the real ones (as protoc orders them).
    const field: FieldDescriptorProto[] = m.fields.map((f, i) => {
      this.comment([...path, MESSAGE_FIELD, i], f.comment);
      const fd = this.field(f, m, nestedType);
      if (f.oneof !== undefined) fd.oneofIndex = m.oneofs.indexOf(f.oneof);
      if (f.optional) {
        fd.proto3Optional = true;
        fd.oneofIndex = oneofDecl.length;
        oneofDecl.push({ name: `_${f.name}` });
      }
      return fd;
    });
    return create(DescriptorProtoSchema, { name: m.name, field, nestedType, enumType, oneofDecl });
  }

  enumType(e: EnumModel, path: number[]): EnumDescriptorProto {
    this.comment(path, e.comment);
    for (const [i, v] of e.values.entries()) this.comment([...path, ENUM_VALUE, i], v.comment);
    return create(EnumDescriptorProtoSchema, { name: e.name, value: e.values.map((v) => ({ name: v.name, number: v.number })) });
  }

  private field(f: FieldModel, owner: MessageModel, nested: DescriptorProto[]): FieldDescriptorProto {
    const fd = create(FieldDescriptorProtoSchema, { name: f.name, number: f.number, jsonName: jsonNameOf(f.name), label: Label.OPTIONAL });
    if (f.shape.kind === "list") {
      fd.label = Label.REPEATED;
      this.setType(fd, f.shape.item);
    } else if (f.shape.kind === "map") {
      // A map is a repeated nested `<Name>Entry { key = 1; value = 2; }` marked map_entry.
      const entryName = `${jsonNameOf(`_${f.name}`)}Entry`;
      const key = create(FieldDescriptorProtoSchema, { name: "key", number: 1, jsonName: "key", label: Label.OPTIONAL, type: Type.STRING });
      const value = create(FieldDescriptorProtoSchema, { name: "value", number: 2, jsonName: "value", label: Label.OPTIONAL });
      this.setType(value, f.shape.value);
      nested.push(create(DescriptorProtoSchema, { name: entryName, field: [key, value], options: { mapEntry: true } }));
      fd.label = Label.REPEATED;
      fd.type = Type.MESSAGE;
      fd.typeName = `.${messageTypeName(this.pkg, owner)}.${entryName}`;
    } else {
      this.setType(fd, f.shape);
    }
    const options = create(FieldOptionsSchema, {});
    if (f.deprecated) options.deprecated = true;
    const cardinality = f.shape.kind === "list" ? "list" : f.shape.kind === "map" ? "map" : "single";
    // The rules go on the value's type: a map's entries, a list's items, or the field.
    const ruled = hasConstraints(f.constraints) && applyRules(options, f.constraints, { type: fd.type, cardinality });
    if (ruled) this.usedRules();
    if (f.deprecated || ruled) fd.options = options;
    return fd;
  }

  private setType(fd: FieldDescriptorProto, shape: Shape): void {
    switch (shape.kind) {
      case "scalar":
        fd.type = SCALAR_TYPES[shape.scalar];
        return;
      case "const":
        fd.type = Type.STRING;
        return;
      case "enum":
        fd.type = Type.ENUM;
        fd.typeName = `.${enumTypeName(this.pkg, shape.enum)}`;
        return;
      case "message":
        fd.type = Type.MESSAGE;
        fd.typeName = `.${messageTypeName(this.pkg, shape.message)}`;
        return;
      case "struct":
        fd.type = Type.MESSAGE;
        fd.typeName = ".google.protobuf.Struct";
        return;
      case "value":
        fd.type = Type.MESSAGE;
        fd.typeName = ".google.protobuf.Value";
        return;
      default:
        throw new Error(`a ${shape.kind} cannot be the type of a single field`);
    }
  }
}

function enumTypeName(pkg: string, e: EnumModel): string {
  return e.parent === undefined ? `${pkg}.${e.name}` : `${messageTypeName(pkg, e.parent)}.${e.name}`;
}
