import {
  create,
  createFileRegistry,
  createRegistry,
  type DescFile,
  type DescMessage,
  type FileRegistry,
  type Registry,
} from "@bufbuild/protobuf";
import { type FileDescriptorSet, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
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

/** A `FileDescriptorSet` holding the files that define these messages, and their imports. */
export function fileDescriptorSet(messages: Iterable<DescMessage>): FileDescriptorSet {
  const files = filesWithDependencies([...messages].map((m) => m.file));
  return create(FileDescriptorSetSchema, { file: files.map((f) => f.proto) });
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
