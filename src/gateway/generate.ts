import type { DescFile, DescMessage, FileRegistry, JsonValue, Message } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { fileDescriptorOf, loadFile, runtimeMessage } from "./descriptor.js";
import { decodeUpstream, type EncodeMode, encodeUpstream } from "./json-codec.js";
import { buildFileModel, type EnvironmentSchemas, type FileModelOptions } from "./model-builder.js";
import { snakeCase } from "./names.js";
import type { FileModel, MessageModel } from "./proto-model.js";
import { printProto } from "./proto-text.js";

/** A proto package generated from an OpenEnv environment's JSON Schemas. */
export interface GeneratedProto {
  readonly model: FileModel;
  /** The file, with its comments in source_code_info. */
  readonly descriptor: FileDescriptorProto;
  /** The file as .proto source. */
  readonly text: string;
}

/**
 * Maps an environment's `/schema` answer (`{action, observation, state}` JSON
 * Schemas) to a proto package: the Action, Observation and State messages and
 * everything they use.
 *
 * @example
 * ```ts
 * const schemas = await (await fetch("http://localhost:8001/schema")).json();
 * const { text } = protoFromSchemas(schemas, { package: "openenv.upstream.echo.v1" });
 * ```
 */
export function protoFromSchemas(schemas: EnvironmentSchemas, options: FileModelOptions): GeneratedProto {
  const model = buildFileModel(schemas, options);
  const descriptor = fileDescriptorOf(model);
  return { model, descriptor, text: printProto(descriptor) };
}

/** The proto package name for an environment name: `EchoEnvironment` → `openenv.upstream.echo.v1`. */
export function defaultPackage(envName: string): string {
  const base = snakeCase(envName.replace(/(_env|_environment|Environment|Env)$/i, ""), "env");
  return `openenv.upstream.${base}.v1`;
}

/** One message of a generated package, with its conversions to and from the upstream's JSON. */
export class MessageCodec {
  constructor(
    readonly model: MessageModel,
    readonly schema: DescMessage,
    private readonly registry: FileRegistry,
  ) {}

  /** Upstream JSON → message; throws {@link SchemaMismatchError} naming the path that does not fit. */
  decode(json: unknown): Message {
    return decodeUpstream(this.model, this.schema, json, this.registry);
  }

  /** Message → upstream JSON (`request`: unset fields left out; `response`: nullable ones as null). */
  encode(message: Message, mode: EncodeMode): JsonValue {
    return encodeUpstream(this.model, this.schema, message, mode, this.registry);
  }
}

/** The generated package loaded at runtime. */
export interface SchemaTypes {
  readonly registry: FileRegistry;
  readonly file: DescFile;
  readonly action: MessageCodec;
  readonly observation: MessageCodec;
  readonly state: MessageCodec;
}

/** Loads a generated package (no code generation: a runtime registry) with a codec per root message. */
export function loadTypes(generated: GeneratedProto): SchemaTypes {
  const { registry, file } = loadFile(generated.descriptor);
  const codec = (m: MessageModel): MessageCodec => new MessageCodec(m, runtimeMessage(registry, generated.model.package, m), registry);
  return {
    registry,
    file,
    action: codec(generated.model.action),
    observation: codec(generated.model.observation),
    state: codec(generated.model.state),
  };
}

export { type EncodeMode, SchemaMismatchError } from "./json-codec.js";
export type { EnvironmentSchemas } from "./model-builder.js";
