import { create, type DescFile, type DescMessage, type DescService, toBinary } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  type ServerReflectionRequest as RequestV1,
  type ServerReflectionResponse as ResponseV1,
  ServerReflectionResponseSchema as ResponseV1Schema,
  type ServerReflection as ServerReflectionV1,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  type ServerReflectionRequest as RequestV1Alpha,
  type ServerReflectionResponse as ResponseV1Alpha,
  ServerReflectionResponseSchema as ResponseV1AlphaSchema,
  type ServerReflection as ServerReflectionV1Alpha,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { filesWithDependencies } from "../protocol/descriptors.js";

/** Everything reflection can answer about: files by name, symbols, extensions, services. */
export class DescriptorIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(
    readonly services: readonly DescService[],
    extraMessages: readonly DescMessage[] = [],
  ) {
    const roots = [...services.map((s) => s.file), ...extraMessages.map((m) => m.file)];
    for (const file of filesWithDependencies(roots)) {
      this.files.set(file.name, file);
      for (const type of nestedTypes(file)) {
        this.symbols.set(type.typeName, file);
        if (type.kind === "service") {
          for (const method of type.methods) this.symbols.set(`${type.typeName}.${method.name}`, file);
        }
        if (type.kind === "extension") {
          const target = type.extendee.typeName;
          const byNumber = this.extensions.get(target) ?? new Map<number, DescFile>();
          this.extensions.set(target, byNumber);
          byNumber.set(type.number, file);
        }
      }
    }
  }

  fileByName(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  fileBySymbol(symbol: string): DescFile | undefined {
    return this.symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  fileByExtension(typeName: string, number: number): DescFile | undefined {
    return this.extensions.get(typeName)?.get(number);
  }

  extensionNumbers(typeName: string): number[] | undefined {
    const byNumber = this.extensions.get(typeName);
    if (byNumber === undefined) return this.symbols.has(typeName) ? [] : undefined;
    return [...byNumber.keys()].sort((a, b) => a - b);
  }

  /** The serialized FileDescriptorProtos of a file and its imports not yet sent on this stream. */
  encode(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    // The requested file goes first, as grpc-go does; its imports follow.
    const order = filesWithDependencies([file]).reverse();
    for (const f of order) {
      if (f !== file && sent.has(f.name)) continue;
      sent.add(f.name);
      let bytes = this.encoded.get(f.name);
      if (bytes === undefined) {
        bytes = toBinary(FileDescriptorProtoSchema, f.proto);
        this.encoded.set(f.name, bytes);
      }
      out.push(bytes);
    }
    return out;
  }
}

type Request = RequestV1 | RequestV1Alpha;
type ResponseInit = Omit<ResponseV1, "$typeName" | "originalRequest"> & { originalRequest: Request };

function answer(index: DescriptorIndex, req: Request, sent: Set<string>): ResponseInit {
  const base = { validHost: req.host, originalRequest: req };
  const notFound = (what: string): ResponseInit => ({
    ...base,
    messageResponse: {
      case: "errorResponse",
      value: { $typeName: "grpc.reflection.v1.ErrorResponse", errorCode: 5, errorMessage: `${what} not found` },
    },
  });
  const files = (file: DescFile): ResponseInit => ({
    ...base,
    messageResponse: {
      case: "fileDescriptorResponse",
      value: { $typeName: "grpc.reflection.v1.FileDescriptorResponse", fileDescriptorProto: index.encode(file, sent) },
    },
  });
  const m = req.messageRequest;
  switch (m.case) {
    case "fileByFilename": {
      const file = index.fileByName(m.value);
      return file === undefined ? notFound(`file '${m.value}'`) : files(file);
    }
    case "fileContainingSymbol": {
      const file = index.fileBySymbol(m.value);
      return file === undefined ? notFound(`symbol '${m.value}'`) : files(file);
    }
    case "fileContainingExtension": {
      const file = index.fileByExtension(m.value.containingType, m.value.extensionNumber);
      return file === undefined ? notFound(`extension ${m.value.extensionNumber} of '${m.value.containingType}'`) : files(file);
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(m.value);
      if (numbers === undefined) return notFound(`type '${m.value}'`);
      return {
        ...base,
        messageResponse: {
          case: "allExtensionNumbersResponse",
          value: { $typeName: "grpc.reflection.v1.ExtensionNumberResponse", baseTypeName: m.value, extensionNumber: numbers },
        },
      };
    }
    case "listServices":
      return {
        ...base,
        messageResponse: {
          case: "listServicesResponse",
          value: {
            $typeName: "grpc.reflection.v1.ListServiceResponse",
            service: index.services.map((s) => ({ $typeName: "grpc.reflection.v1.ServiceResponse", name: s.typeName })),
          },
        },
      };
    default:
      return {
        ...base,
        messageResponse: {
          case: "errorResponse",
          value: { $typeName: "grpc.reflection.v1.ErrorResponse", errorCode: 3, errorMessage: "message_request is required" },
        },
      };
  }
}

/** gRPC server reflection, v1. */
export function reflectionV1(index: DescriptorIndex): ServiceImpl<typeof ServerReflectionV1> {
  return {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const req of requests) yield create(ResponseV1Schema, retag(answer(index, req, sent)) as never) as ResponseV1;
    },
  };
}

/** gRPC server reflection, v1alpha (same messages under the older package; grpcurl still asks for it). */
export function reflectionV1Alpha(index: DescriptorIndex): ServiceImpl<typeof ServerReflectionV1Alpha> {
  return {
    async *serverReflectionInfo(requests) {
      const sent = new Set<string>();
      for await (const req of requests) {
        // The v1 and v1alpha messages have identical fields; re-create under the v1alpha names.
        yield create(ResponseV1AlphaSchema, retag(answer(index, req, sent)) as never) as ResponseV1Alpha;
      }
    },
  };
}

/** Drops `$typeName` tags so `create` builds the tree under the target schema (v1 or v1alpha). */
function retag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(retag);
  if (value === null || typeof value !== "object" || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (k !== "$typeName") out[k] = retag(v);
  return out;
}
