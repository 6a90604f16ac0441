import {
  clone,
  create,
  createFileRegistry,
  createRegistry,
  type DescFile,
  type DescMessage,
  type FileRegistry,
  type Registry,
} from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  type FileDescriptorSet,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { file_openenv_v1_environment_service } from "../../gen/openenv/v1/environment_service_pb.js";
import { file_openenv_v1_options } from "../../gen/openenv/v1/options_pb.js";

/** The type URL of a message type inside a `google.protobuf.Any`. */
export function typeUrlOf(schema: DescMessage): string {
  return `type.googleapis.com/${schema.typeName}`;
}

/** The full message name a type URL names (everything after the last `/`). */
export function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf("/") + 1);
}

/** Files in dependency order (every file after the files it imports), without duplicates. */
export function filesWithDependencies(roots: Iterable<DescFile>): DescFile[] {
  const out: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dep of file.dependencies) visit(dep);
    out.push(file);
  };
  for (const f of roots) visit(f);
  return out;
}

/** Files only imported for their field options: a client needs the types, not protovalidate's 70 KB of rule definitions. */
const OPTIONS_ONLY = "buf/validate/";

/**
 * A `FileDescriptorSet` holding the files that define these messages, and their
 * imports, without protovalidate's file: its `(buf.validate.field)` options stay
 * on the fields (as option bytes a client may read with the extension), but the
 * import goes, so Describe does not carry 70 KB of rule definitions per call.
 */
export function fileDescriptorSet(messages: Iterable<DescMessage>): FileDescriptorSet {
  const files: FileDescriptorProto[] = [];
  for (const f of filesWithDependencies([...messages].map((m) => m.file))) {
    if (f.name.startsWith(OPTIONS_ONLY)) continue;
    const imports = f.proto.dependency;
    const strip =
      imports.some((d) => d.startsWith(OPTIONS_ONLY)) && f.proto.publicDependency.length === 0 && f.proto.weakDependency.length === 0;
    files.push(
      strip ? { ...clone(FileDescriptorProtoSchema, f.proto), dependency: imports.filter((d) => !d.startsWith(OPTIONS_ONLY)) } : f.proto,
    );
  }
  return create(FileDescriptorSetSchema, { file: files });
}

/** A file registry built from a `FileDescriptorSet` (e.g. from Describe), for clients with no generated code. */
export function registryFromFileSet(set: FileDescriptorSet): FileRegistry {
  return createFileRegistry(set);
}

/** The registry the JSON codecs need to print and parse `Any` values of these messages. */
export function jsonRegistry(messages: Iterable<DescMessage | undefined>): Registry {
  const types: DescMessage[] = [];
  for (const m of messages) if (m !== undefined) types.push(m);
  return createRegistry(file_openenv_v1_environment_service, file_openenv_v1_options, ...filesWithDependencies(types.map((t) => t.file)));
}
