import type { Constraints } from "./field-rules.js";
import { NameScope } from "./names.js";

/**
 * The model of one generated proto file: what model-builder.ts makes of an
 * environment's JSON Schemas, descriptor.ts writes as a FileDescriptorProto,
 * and json-codec.ts follows to convert JSON both ways.
 */

/** Proto scalar types the mapping uses. */
export type ScalarKind = "string" | "bytes" | "bool" | "double" | "int32" | "uint32" | "int64" | "uint64";

/** How a value is represented in proto, and so how the codec converts it. */
export type Shape =
  | { readonly kind: "scalar"; readonly scalar: ScalarKind }
  | { readonly kind: "enum"; readonly enum: EnumModel }
  | { readonly kind: "message"; readonly message: MessageModel }
  | { readonly kind: "struct" }
  | { readonly kind: "value" }
  | { readonly kind: "list"; readonly item: Shape }
  | { readonly kind: "map"; readonly value: Shape }
  /** A string that can only have one value (`Literal["x"]`, `const`). */
  | { readonly kind: "const"; readonly value: string };

/** One value of an enum. */
export interface EnumValueModel {
  readonly name: string;
  readonly number: number;
  /** The JSON value it stands for; undefined for the added `_UNSPECIFIED`. */
  readonly json: string | undefined;
  readonly comment: string[];
}

/** An enum of the generated file. */
export interface EnumModel {
  readonly name: string;
  readonly parent: MessageModel | undefined;
  readonly values: EnumValueModel[];
  readonly comment: string[];
}

/** One field of a message. */
export interface FieldModel {
  readonly name: string;
  readonly number: number;
  readonly shape: Shape;
  /** proto3 `optional`: explicit presence for a scalar or enum. */
  readonly optional: boolean;
  /** JSON `null` is allowed (and means "unset"). */
  readonly nullable: boolean;
  readonly constraints: Constraints;
  readonly comment: string[];
  readonly deprecated: boolean;
  /** Set on the members of a oneof. */
  readonly oneof: OneofModel | undefined;
  /** How a JSON value selects this oneof member. */
  readonly match: MemberMatch | undefined;
}

/** How the codec recognises the member of a union a JSON value belongs to. */
export interface MemberMatch {
  /** JSON type of the value: string, number (any), integer, boolean, object, array. */
  readonly category: Category;
  /** For objects of a discriminated union: the discriminator values that select this member. */
  readonly tags: readonly string[];
}

/** A JSON union mapped to a oneof. */
export interface OneofModel {
  readonly name: string;
  readonly members: FieldModel[];
  /** Property of the member objects that tells them apart, if the members are objects. */
  readonly discriminator: string | undefined;
  readonly nullable: boolean;
  readonly comment: string[];
}

/** A JSON property of an object and where its value goes. */
export type Property =
  | { readonly key: string; readonly kind: "field"; readonly field: FieldModel }
  | { readonly key: string; readonly kind: "oneof"; readonly oneof: OneofModel };

/** A message of the generated file. */
export interface MessageModel {
  readonly name: string;
  readonly parent: MessageModel | undefined;
  readonly comment: string[];
  /** Every field in number order (oneof members included). */
  readonly fields: FieldModel[];
  readonly oneofs: OneofModel[];
  /** The JSON object's properties in schema order. */
  readonly properties: Property[];
  readonly nestedMessages: MessageModel[];
  readonly nestedEnums: EnumModel[];
  /** Field carrying keys the schema does not name (`additionalProperties`). */
  extras: FieldModel | undefined;
  /** A wrapper stands for a bare JSON list or object: its one field `values` is the value. */
  readonly wrapper: boolean;
  /** The JSON value is not an object: the message's one property (a field `value`, or a oneof) is the whole value. */
  rootValue: boolean;
  /** Scope of field names. */
  readonly fieldNames: NameScope;
  /** Scope of nested type names. */
  readonly typeNames: NameScope;
}

/** The model of one generated proto file. */
export interface FileModel {
  readonly package: string;
  /** Path of the file, e.g. `openenv/upstream/echo/v1/echo.proto` (matches the package for buf lint). */
  readonly path: string;
  readonly messages: MessageModel[];
  readonly enums: EnumModel[];
  readonly imports: ReadonlySet<string>;
  readonly action: MessageModel;
  readonly observation: MessageModel;
  readonly state: MessageModel;
  /** Header comment of the file. */
  readonly comment: string[];
}

/** JSON type of a value, as the codec tells union members apart. */
export type Category = "string" | "number" | "integer" | "boolean" | "object" | "array";

export function newMessage(
  name: string,
  parent: MessageModel | undefined,
  comment: string[],
  flags: { wrapper?: boolean; rootValue?: boolean },
): MessageModel {
  return {
    name,
    parent,
    comment,
    fields: [],
    oneofs: [],
    properties: [],
    nestedMessages: [],
    nestedEnums: [],
    extras: undefined,
    wrapper: flags.wrapper === true,
    rootValue: flags.rootValue === true,
    fieldNames: new NameScope(),
    typeNames: new NameScope(),
  };
}

export function makeField(
  name: string,
  number: number,
  shape: Shape,
  optional: boolean,
  nullable: boolean,
  constraints: Constraints,
  comment: string[],
): FieldModel {
  return { name, number, shape, optional, nullable, constraints, comment, deprecated: false, oneof: undefined, match: undefined };
}

export function messageShape(message: MessageModel): Shape {
  return { kind: "message", message };
}
