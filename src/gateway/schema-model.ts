import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { isJsonObject } from "../protocol/json-object.js";
import type { Constraints } from "./field-rules.js";
import { NameScope, pascalCase, snakeCase, upperSnakeCase } from "./names.js";
import { isRe2Compatible } from "./regexp-subset.js";

/**
 * JSON Schema (as Pydantic v2 writes it for OpenEnv's `/schema`) → a model of
 * a proto file: messages, enums, fields and, for each field, the shape the
 * JSON codec needs to convert values both ways. Every decision of the mapping
 * is made here; descriptor.ts writes the model as a FileDescriptorProto and
 * json-codec.ts converts JSON along it.
 *
 * - objects → messages (`$defs` → top-level messages, inline objects → nested);
 * - `enum`/`Literal` strings → enums (`FOO_UNSPECIFIED = 0` first);
 * - `anyOf [X, null]` → X with presence (`optional`, or a wrapper message);
 * - arrays → `repeated`; a list of lists, a nullable list, a map of lists → a
 *   wrapper message (`Int64List { repeated int64 values = 1; }`);
 * - `dict[str, Any]` → `google.protobuf.Struct`, `Any` → `google.protobuf.Value`,
 *   `dict[str, X]` → `map<string, X>`;
 * - unions whose members can be told apart (by JSON type, or by a discriminator
 *   property) → `oneof`;
 * - `additionalProperties: true` next to properties → a Struct field carrying
 *   the extra keys;
 * - anything else is carried as `google.protobuf.Value`, with a comment saying why.
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

/** An environment's `/schema` answer. */
export interface EnvironmentSchemas {
  readonly action: JsonValue;
  readonly observation: JsonValue;
  readonly state: JsonValue;
}

/** Options of {@link buildFileModel}. */
export interface FileModelOptions {
  /** Proto package, e.g. `openenv.upstream.echo.v1`. */
  readonly package: string;
  /** Base name of the file (without `.proto`); defaults to the package's second-to-last part. */
  readonly fileName?: string;
  /** Where the schemas came from, for the header comment (a URL or a file name). */
  readonly source?: string;
}

/** The keys OpenEnv lifts out of an observation onto the step result (StepResult.done, reward, metadata). */
export const LIFTED_OBSERVATION_KEYS: readonly string[] = ["done", "reward", "metadata"];

type Category = "string" | "number" | "integer" | "boolean" | "object" | "array";

type Union = {
  readonly kind: "union";
  readonly members: readonly {
    readonly shape: Shape;
    readonly label: string;
    readonly match: MemberMatch;
    readonly constraints: Constraints;
  }[];
  readonly discriminator: string | undefined;
};

interface Resolved {
  readonly shape: Shape | Union;
  readonly nullable: boolean;
  readonly constraints: Constraints;
  readonly notes: string[];
}

interface Context {
  /** The section's root schema, against which `#/$defs/...` resolves. */
  readonly root: JsonObject;
  readonly section: Section;
  /** JSON pointer of the schema being mapped, for comments. */
  readonly pointer: string;
  /** Message that owns nested types created for this schema. */
  readonly owner: MessageModel;
  /** Name for nested types created for this schema (from the property name). */
  readonly hint: string;
}

type Section = "action" | "observation" | "state";

/** Keywords that change what values are valid in ways a proto type cannot say: the value becomes a Value. */
const STRUCTURAL = ["not", "if", "then", "else", "patternProperties", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems"];
/** Keywords that only constrain values further: named in the comment, checked by the upstream. */
const UNCHECKED = ["multipleOf", "uniqueItems", "contains", "minContains", "maxContains", "propertyNames", "dependentRequired"];

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const UINT32_MAX = 2 ** 32 - 1;

/** Builds the model of the proto file for an environment's three schemas. */
export function buildFileModel(schemas: EnvironmentSchemas, options: FileModelOptions): FileModel {
  return new ModelBuilder(options).build(schemas);
}

/** The package's default file name: `openenv.upstream.echo.v1` → `echo`. */
export function defaultFileName(pkg: string): string {
  const parts = pkg.split(".");
  return parts.length >= 2 && /^v\d/.test(parts[parts.length - 1] ?? "") ? (parts[parts.length - 2] as string) : (parts.at(-1) ?? "env");
}

class ModelBuilder {
  private readonly messages: MessageModel[] = [];
  private readonly enums: EnumModel[] = [];
  private readonly topNames = new NameScope();
  private readonly imports = new Set<string>();
  /** `$defs` already mapped, by name, with the canonical JSON of their schema. */
  private readonly defs = new Map<string, { canon: string; resolved: Resolved | undefined; name: string }[]>();
  /** Wrapper messages by the shape they wrap. */
  private readonly wrappers = new Map<string, MessageModel>();
  /** Enums written as proto enum names (`X_UNSPECIFIED` first), shared by their value list. */
  private readonly protoEnums = new Map<string, EnumModel>();
  private readonly roots = new Map<Section, MessageModel>();
  private readonly fileScope: MessageModel;

  constructor(private readonly options: FileModelOptions) {
    this.fileScope = newMessage("", undefined, [], {});
  }

  build(schemas: EnvironmentSchemas): FileModel {
    const action = this.root("action", schemas.action, "Action");
    const observation = this.root("observation", schemas.observation, "Observation");
    const state = this.root("state", schemas.state, "State");
    const fileName = this.options.fileName ?? defaultFileName(this.options.package);
    return {
      package: this.options.package,
      path: `${this.options.package.split(".").join("/")}/${fileName}.proto`,
      messages: this.messages,
      enums: this.enums,
      imports: this.imports,
      action,
      observation,
      state,
      comment: [
        `Generated by \`openenv proto\`${this.options.source !== undefined ? ` from ${this.options.source}` : ""}: the`,
        "Action, Observation and State of an OpenEnv environment, mapped from the JSON",
        "Schemas of its /schema endpoint. Regenerate rather than edit.",
      ],
    };
  }

  // ---- roots -------------------------------------------------------------

  private root(section: Section, schema: JsonValue, fallback: string): MessageModel {
    const root = isJsonObject(schema) ? schema : {};
    const title = typeof root.title === "string" ? root.title : fallback;
    const comment = [...descriptionLines(root), `Source: the ${section} schema of /schema.`];
    const lifted = section === "observation";
    if (lifted) {
      comment.push("OpenEnv's observation fields done, reward and metadata travel in the step result (StepResult.done,");
      comment.push("StepResult.reward, StepResult.metadata).");
    }
    const message = newMessage(this.topNames.claim(pascalCase(title, fallback), ""), undefined, comment, {});
    this.messages.push(message);
    this.roots.set(section, message);
    const ctx: Context = { root, section, pointer: "#", owner: message, hint: title };
    const target = this.deref(root, root);
    if (isJsonObject(target.properties) || (target.type === "object" && !hasUnion(target) && target.additionalProperties === false)) {
      this.fillObject(message, target, ctx, lifted ? LIFTED_OBSERVATION_KEYS : []);
      return message;
    }
    // Not an object: a union of objects becomes one oneof, anything else the single field `value`.
    const resolved = this.resolve(root, ctx);
    message.rootValue = true;
    if (resolved.shape.kind === "union") {
      message.comment.push("The schema's root is a union: the JSON value is the set member of the oneof.");
      this.addOneof(message, section, resolved, undefined, [`Source: the ${section} schema's union.`, ...resolved.notes]);
      return message;
    }
    message.comment.push("The schema's root is not an object: the JSON value is the field `value`.");
    this.addField(message, "value", resolved, true, undefined, [`Source: the ${section} schema: ${summarize(root)}.`]);
    return message;
  }

  // ---- objects -----------------------------------------------------------

  private fillObject(message: MessageModel, schema: JsonObject, ctx: Context, skip: readonly string[]): void {
    const properties = isJsonObject(schema.properties) ? schema.properties : {};
    const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []);
    for (const [key, prop] of Object.entries(properties)) {
      if (skip.includes(key)) continue;
      const pointer = `${ctx.pointer}/properties/${escapePointer(key)}`;
      const propCtx: Context = { ...ctx, pointer, owner: message, hint: key };
      const propSchema = isJsonObject(prop) ? prop : prop === false ? { not: {} } : {};
      const resolved = this.resolve(propSchema, propCtx);
      const comment = [...descriptionLines(propSchema), sourceLine(ctx.section, pointer, propSchema, required.has(key))];
      if (resolved.shape.kind === "union") {
        this.addOneof(message, key, resolved, key, [...comment, ...resolved.notes]);
      } else {
        this.addField(message, key, resolved, required.has(key), propSchema, comment);
      }
    }
    const extra = schema.additionalProperties;
    if (
      isJsonObject(properties) &&
      Object.keys(properties).length > 0 &&
      (extra === true || (isJsonObject(extra) && Object.keys(extra).length > 0))
    ) {
      const pointer = `${ctx.pointer}/additionalProperties`;
      const resolved =
        extra === true ? structResolved() : this.resolve(extra as JsonObject, { ...ctx, pointer, owner: message, hint: "additional" });
      const valueShape = resolved.shape.kind === "union" || resolved.nullable ? ({ kind: "value" } as const) : resolved.shape;
      const shape: Shape = extra === true ? { kind: "struct" } : { kind: "map", value: this.mapValue(valueShape) };
      if (shape.kind === "struct") this.imports.add("google/protobuf/struct.proto");
      const name = message.fieldNames.claim("additional_properties");
      const field = makeField(name, message.fields.length + 1, shape, false, false, {}, [
        "Properties the schema does not name (additionalProperties), with their JSON values.",
        `Source: ${ctx.section} ${pointer}.`,
      ]);
      message.fields.push(field);
      message.extras = field;
    }
  }

  private addField(
    message: MessageModel,
    key: string,
    resolved: Resolved,
    required: boolean,
    schema: JsonObject | undefined,
    comment: string[] = [],
  ): void {
    const shape = resolved.shape as Shape;
    let finalShape = shape;
    let nullable = resolved.nullable;
    // A nullable list or map cannot be a repeated field (no presence): wrap it.
    if ((shape.kind === "list" || shape.kind === "map") && nullable) finalShape = this.messageShape(this.wrapper(shape));
    const scalarLike = finalShape.kind === "scalar" || finalShape.kind === "enum";
    const hasDefault = schema !== undefined && "default" in schema;
    const defaultIsZero = hasDefault && isZeroDefault(finalShape, schema?.default as JsonValue);
    // Presence where "unset" must differ from the zero value: null, or a default the upstream applies itself.
    const optional = scalarLike && (nullable || (!required && !defaultIsZero));
    const constraints: Constraints = { ...resolved.constraints };
    if (required && (finalShape.kind === "enum" || (finalShape.kind === "message" && !finalShape.message.wrapper)))
      constraints.required = true;
    if (finalShape !== shape) {
      // Lengths of a wrapped list are the upstream's to check (a wrapper's rules would apply to every use).
      delete constraints.minLen;
      delete constraints.maxLen;
    }
    if (finalShape.kind === "value") nullable = true;
    const name = message.fieldNames.claim(snakeCase(key));
    const field = makeField(name, message.fields.length + 1, finalShape, optional, nullable, constraints, [...comment, ...resolved.notes]);
    (field as { deprecated: boolean }).deprecated = schema?.deprecated === true;
    message.fields.push(field);
    message.properties.push({ key, kind: "field", field });
  }

  private addOneof(message: MessageModel, key: string, resolved: Resolved, propKey: string | undefined, comment: string[]): void {
    const union = resolved.shape as Union;
    const name = message.fieldNames.claim(snakeCase(key));
    const oneof: OneofModel = { name, members: [], discriminator: union.discriminator, nullable: resolved.nullable, comment };
    for (const m of union.members) {
      const label = snakeCase(m.label);
      const plain = m.shape.kind === "message" && !m.shape.message.wrapper && !message.fieldNames.has(label);
      const memberName = message.fieldNames.claim(plain ? label : `${name}_${label}`);
      const memberComment = [
        `The ${m.match.category} member of ${propKey === undefined ? "the union" : `"${propKey}"`}${
          m.match.tags.length > 0 ? ` (${union.discriminator} = ${m.match.tags.map((t) => JSON.stringify(t)).join(" or ")})` : ""
        }.`,
      ];
      const field = makeField(memberName, message.fields.length + 1, m.shape, false, false, m.constraints, memberComment);
      (field as { oneof: OneofModel | undefined }).oneof = oneof;
      (field as { match: MemberMatch | undefined }).match = m.match;
      message.fields.push(field);
      oneof.members.push(field);
    }
    message.oneofs.push(oneof);
    message.properties.push({ key: propKey ?? key, kind: "oneof", oneof });
  }

  // ---- values ------------------------------------------------------------

  private resolve(schema: JsonObject, ctx: Context): Resolved {
    // $ref (siblings such as description stay with the referring property).
    if (typeof schema.$ref === "string") return this.resolveRef(schema.$ref, ctx);
    const structural = STRUCTURAL.filter((k) => k in schema);
    if (structural.length > 0) return valueResolved(`uses ${structural.join(", ")}, which no proto type expresses`);
    if (Array.isArray(schema.allOf)) {
      if (schema.allOf.length === 1 && isJsonObject(schema.allOf[0])) {
        const { allOf: _, ...rest } = schema;
        return this.resolve({ ...rest, ...schema.allOf[0] }, ctx);
      }
      return valueResolved("uses allOf with several schemas, which no proto type expresses");
    }
    const union = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
    if (union !== undefined) return this.resolveUnion(union, schema, ctx);
    if (Array.isArray(schema.type)) {
      const types = schema.type.filter((t): t is string => typeof t === "string");
      if (types.length !== 1 || types.length !== schema.type.length) {
        return this.resolveUnion(
          types.map((t) => ({ ...schema, type: t })),
          {},
          ctx,
        );
      }
      return this.resolve({ ...schema, type: types[0] as string }, ctx);
    }
    const notes = uncheckedNotes(schema);
    if ("const" in schema) return withNotes(this.resolveConst(schema.const as JsonValue, schema), notes);
    if (Array.isArray(schema.enum)) return withNotes(this.resolveEnum(schema.enum, schema, ctx), notes);
    switch (schema.type) {
      case "string":
        return withNotes(stringResolved(schema), notes);
      case "integer":
        return withNotes(integerResolved(schema), notes);
      case "number":
        return withNotes(numberResolved(schema), notes);
      case "boolean":
        return { shape: { kind: "scalar", scalar: "bool" }, nullable: false, constraints: {}, notes };
      case "null":
        return { ...valueResolved("is always null"), nullable: true };
      case "array":
        return withNotes(this.resolveArray(schema, ctx), notes);
      case "object":
        return withNotes(this.resolveObject(schema, ctx), notes);
      case undefined:
        if (isJsonObject(schema.properties)) return withNotes(this.resolveObject(schema, ctx), notes);
        if ("items" in schema || "prefixItems" in schema) return withNotes(this.resolveArray(schema, ctx), notes);
        // No type: any JSON value (Pydantic's `Any`).
        return {
          shape: this.valueShape(),
          nullable: true,
          constraints: {},
          notes: [...notes, "Any JSON value (the schema gives no type)."],
        };
      default:
        return valueResolved(`has the unknown type ${JSON.stringify(schema.type)}`);
    }
  }

  private resolveRef(ref: string, ctx: Context): Resolved {
    if (ref === "#") {
      const self = this.roots.get(ctx.section);
      if (self !== undefined) return { shape: this.messageShape(self), nullable: false, constraints: {}, notes: [] };
    }
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    const defs = m !== null && isJsonObject(ctx.root[m[1] as string]) ? (ctx.root[m[1] as string] as JsonObject) : undefined;
    const defName = m === null ? undefined : decodePointer(m[2] as string);
    const def = defs !== undefined && defName !== undefined ? defs[defName] : undefined;
    if (!isJsonObject(def) || defName === undefined) {
      this.value();
      return valueResolved(`refers to ${ref}, which the schema does not define`);
    }
    const canon = canonical(def);
    const known = this.defs.get(defName) ?? [];
    const same = known.find((k) => k.canon === canon);
    if (same !== undefined) {
      if (same.resolved === undefined) {
        // A recursive reference to a def being mapped: only objects can recurse.
        const message = this.messages.find((mm) => mm.name === same.name);
        if (message !== undefined) return { shape: this.messageShape(message), nullable: false, constraints: {}, notes: [] };
        return valueResolved(`refers to ${ref} recursively`);
      }
      return same.resolved;
    }
    const entry = { canon, resolved: undefined as Resolved | undefined, name: "" };
    known.push(entry);
    this.defs.set(defName, known);
    const pointer = `#/${m?.[1]}/${m?.[2]}`;
    const target = this.deref(ctx.root, def);
    if (isJsonObject(target.properties) || (target.type === "object" && !hasUnion(target) && target.additionalProperties === false)) {
      const name = this.topNames.claim(pascalCase(defName), "");
      entry.name = name;
      const message = newMessage(name, undefined, [...descriptionLines(target), `Source: ${ctx.section} ${pointer}.`], {});
      this.messages.push(message);
      this.fillObject(message, target, { ...ctx, pointer, owner: message, hint: defName }, []);
      entry.resolved = { shape: this.messageShape(message), nullable: false, constraints: {}, notes: [] };
      return entry.resolved;
    }
    const isEnum = Array.isArray(target.enum) && target.enum.every((v) => typeof v === "string" || v === null);
    if (isEnum) {
      entry.resolved = this.resolveEnum(
        target.enum as JsonValue[],
        target,
        { ...ctx, pointer, owner: this.fileScope, hint: defName },
        defName,
      );
      return entry.resolved;
    }
    entry.resolved = this.resolve(target, { ...ctx, pointer, hint: defName });
    return entry.resolved;
  }

  /** Follows a chain of `$ref`s to the schema it names (one level of `allOf` included). */
  private deref(root: JsonObject, schema: JsonObject, depth = 0): JsonObject {
    if (depth > 32) return schema;
    if (Array.isArray(schema.allOf) && schema.allOf.length === 1 && isJsonObject(schema.allOf[0]))
      return this.deref(root, schema.allOf[0], depth + 1);
    if (typeof schema.$ref !== "string" || schema.$ref === "#") return schema;
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(schema.$ref);
    const defs = m !== null && isJsonObject(root[m[1] as string]) ? (root[m[1] as string] as JsonObject) : undefined;
    const def = defs?.[decodePointer(m?.[2] ?? "")];
    return isJsonObject(def) ? def : schema;
  }

  private resolveUnion(alternatives: JsonValue[], schema: JsonObject, ctx: Context): Resolved {
    let nullable = false;
    const rest: JsonObject[] = [];
    for (const alt of alternatives) {
      if (isJsonObject(alt) && (alt.type === "null" || ("const" in alt && alt.const === null))) nullable = true;
      else rest.push(isJsonObject(alt) ? alt : {});
    }
    if (rest.length === 0) return { ...valueResolved("is always null"), nullable: true };
    if (rest.length === 1) {
      const only = this.resolve(rest[0] as JsonObject, ctx);
      return { ...only, nullable: nullable || only.nullable };
    }
    const members = rest.map((alt, i) => {
      const resolved = this.resolve(alt, { ...ctx, pointer: `${ctx.pointer}/anyOf/${i}` });
      return { alt, resolved };
    });
    if (members.some((m) => m.resolved.shape.kind === "union" || m.resolved.nullable)) {
      return { ...valueResolved("is a union of unions or of nullable members"), nullable: true };
    }
    // Integers and floats are one JSON type: such a union is a double.
    const numeric = members.every((m) => {
      const s = m.resolved.shape as Shape;
      return s.kind === "scalar" && (s.scalar === "double" || s.scalar.startsWith("int") || s.scalar.startsWith("uint"));
    });
    if (numeric) {
      return {
        shape: { kind: "scalar", scalar: "double" },
        nullable,
        constraints: {},
        notes: ["A union of integer and number: carried as a double (JSON does not tell 1 from 1.0)."],
      };
    }
    const discriminator = discriminatorOf(
      schema,
      members.map((m) => this.deref(ctx.root, m.alt)),
    );
    const out: { shape: Shape; label: string; match: MemberMatch; constraints: Constraints }[] = [];
    const seen = new Set<Category>();
    for (const { alt, resolved } of members) {
      let shape = resolved.shape as Shape;
      if (shape.kind === "list" || shape.kind === "map") shape = this.messageShape(this.wrapper(shape));
      const category = categoryOf(resolved.shape as Shape);
      const target = this.deref(ctx.root, alt);
      const tags =
        category === "object" && discriminator !== undefined ? tagsOf(target, discriminator.property, discriminator.mapping, alt) : [];
      if (category === "object" && discriminator !== undefined) {
        if (tags.length === 0)
          return { ...valueResolved("is a union of objects with a member the discriminator cannot select"), nullable: true };
      } else if (seen.has(category) || (category === "integer" && seen.has("number")) || (category === "number" && seen.has("integer"))) {
        return {
          ...valueResolved(`is a union with several ${category} members that JSON cannot tell apart`),
          nullable: true,
        };
      }
      seen.add(category);
      out.push({ shape, label: memberLabel(shape, alt), match: { category, tags }, constraints: resolved.constraints });
    }
    return { shape: { kind: "union", members: out, discriminator: discriminator?.property }, nullable, constraints: {}, notes: [] };
  }

  private resolveConst(value: JsonValue, schema: JsonObject): Resolved {
    if (typeof value === "string") {
      return {
        shape: { kind: "const", value },
        nullable: false,
        constraints: { allowed: ["", value] },
        notes: [`Always ${JSON.stringify(value)}.`],
      };
    }
    if (typeof value === "boolean")
      return { shape: { kind: "scalar", scalar: "bool" }, nullable: false, constraints: {}, notes: [`Always ${value}.`] };
    if (typeof value === "number") {
      const shape: Shape = Number.isInteger(value)
        ? { kind: "scalar", scalar: integerType(value, value) }
        : { kind: "scalar", scalar: "double" };
      return { shape, nullable: false, constraints: { gte: value, lte: value }, notes: [`Always ${value}.`] };
    }
    if (value === null) return { ...valueResolved("is always null"), nullable: true };
    void schema;
    return valueResolved("is a constant object or array");
  }

  private resolveEnum(values: JsonValue[], schema: JsonObject, ctx: Context, defName?: string): Resolved {
    const nullable = values.includes(null);
    const rest = values.filter((v) => v !== null);
    if (rest.length === 0) return { ...valueResolved("is always null"), nullable: true };
    if (rest.every((v) => typeof v === "string")) {
      return {
        shape: { kind: "enum", enum: this.enumModel(rest as string[], schema, ctx, defName) },
        nullable,
        constraints: {},
        notes: [],
      };
    }
    if (rest.every((v) => typeof v === "number" && Number.isInteger(v))) {
      const nums = rest as number[];
      const min = Math.min(...nums);
      const max = Math.max(...nums);
      return {
        shape: { kind: "scalar", scalar: integerType(min, max) },
        nullable,
        constraints: boundsRules(integerType(min, max), min, max),
        notes: [`One of ${nums.join(", ")} (an integer enum; the upstream checks the exact values).`],
      };
    }
    return { ...valueResolved("is an enum of mixed JSON types"), nullable: true };
  }

  private enumModel(values: string[], schema: JsonObject, ctx: Context, defName?: string): EnumModel {
    const protoStyle = protoStylePrefix(values);
    if (protoStyle !== undefined) {
      // Already proto enum names (an openenv-connect server's schema): keep names and numbers.
      const key = values.join("\n");
      const known = this.protoEnums.get(key);
      if (known !== undefined) return known;
      const model: EnumModel = {
        name: this.topNames.claim(pascalCase(defName ?? protoStyle, "Enum"), ""),
        parent: undefined,
        values: values.map((v, i) => ({
          name: v,
          number: i,
          json: v,
          comment: [i === 0 ? "Not set." : `JSON value ${JSON.stringify(v)}.`],
        })),
        comment: [...descriptionLines(schema), `Source: ${ctx.section} ${ctx.pointer}.`],
      };
      this.protoEnums.set(key, model);
      this.enums.push(model);
      return model;
    }
    const owner = defName !== undefined || ctx.owner === this.fileScope ? undefined : ctx.owner;
    const scope = owner === undefined ? this.topNames : owner.typeNames;
    const name = scope.claim(pascalCase(defName ?? ctx.hint, "Enum"), "");
    const prefix = upperSnakeCase(name);
    const names = new NameScope([`${prefix}_UNSPECIFIED`]);
    const model: EnumModel = {
      name,
      parent: owner,
      values: [
        { name: `${prefix}_UNSPECIFIED`, number: 0, json: undefined, comment: ["Not set (no JSON value)."] },
        ...values.map((v, i) => {
          let word = upperSnakeCase(v);
          if (word === "") word = v === "" ? "EMPTY" : "VALUE";
          if (/^[0-9]/.test(word)) word = `V${word}`;
          if (word === "UNSPECIFIED") word = "UNSPECIFIED_VALUE";
          return { name: names.claim(`${prefix}_${word}`), number: i + 1, json: v, comment: [`JSON value ${JSON.stringify(v)}.`] };
        }),
      ],
      comment: [...descriptionLines(schema), `Source: ${ctx.section} ${ctx.pointer}.`],
    };
    if (owner === undefined) this.enums.push(model);
    else owner.nestedEnums.push(model);
    return model;
  }

  private resolveArray(schema: JsonObject, ctx: Context): Resolved {
    const constraints: Constraints = {};
    if (typeof schema.minItems === "number") constraints.minLen = schema.minItems;
    if (typeof schema.maxItems === "number") constraints.maxLen = schema.maxItems;
    let itemSchema: JsonObject | undefined = isJsonObject(schema.items) ? schema.items : undefined;
    const notes: string[] = [];
    if (Array.isArray(schema.prefixItems)) {
      // A tuple: a list when every position has the same type.
      const items = schema.prefixItems.filter(isJsonObject);
      const canon = new Set(items.map((i) => canonical(this.deref(ctx.root, i))));
      if (canon.size !== 1 || (schema.items !== undefined && schema.items !== false)) {
        return valueResolved("is a tuple of different types");
      }
      itemSchema = items[0];
      notes.push(`A tuple of ${items.length} items.`);
    }
    if (itemSchema === undefined) {
      return {
        shape: { kind: "list", item: this.valueShape() },
        nullable: false,
        constraints,
        notes: [...notes, "Items of any JSON type."],
      };
    }
    const item = this.resolve(itemSchema, { ...ctx, pointer: `${ctx.pointer}/items`, hint: `${ctx.hint}_item` });
    if (item.shape.kind === "union") return valueResolved("is a list of a union");
    if (item.nullable && item.shape.kind !== "value") return valueResolved("is a list whose items may be null");
    let itemShape = item.shape;
    if (itemShape.kind === "list" || itemShape.kind === "map") itemShape = this.messageShape(this.wrapper(itemShape));
    // Item rules that apply to each item (bounds, patterns) stay; an item's own lengths cannot be said.
    const itemRules = item.constraints;
    if (itemRules.gte !== undefined) constraints.gte = itemRules.gte;
    if (itemRules.lte !== undefined) constraints.lte = itemRules.lte;
    if (itemRules.pattern !== undefined) constraints.pattern = itemRules.pattern;
    if (itemRules.allowed !== undefined) constraints.allowed = itemRules.allowed;
    if (itemRules.minLen !== undefined || itemRules.maxLen !== undefined)
      notes.push("The items' length limits are checked by the upstream.");
    return { shape: { kind: "list", item: itemShape }, nullable: false, constraints, notes: [...notes, ...item.notes] };
  }

  private resolveObject(schema: JsonObject, ctx: Context): Resolved {
    if (isJsonObject(schema.properties) && Object.keys(schema.properties).length > 0) {
      const title = typeof schema.title === "string" ? schema.title : ctx.hint;
      const name = ctx.owner.typeNames.claim(pascalCase(title), "");
      const nested = newMessage(name, ctx.owner === this.fileScope ? undefined : ctx.owner, [`Source: ${ctx.section} ${ctx.pointer}.`], {});
      if (ctx.owner === this.fileScope) this.messages.push(nested);
      else ctx.owner.nestedMessages.push(nested);
      this.fillObject(nested, schema, { ...ctx, owner: nested }, []);
      return { shape: this.messageShape(nested), nullable: false, constraints: {}, notes: [] };
    }
    const constraints: Constraints = {};
    if (typeof schema.minProperties === "number") constraints.minLen = schema.minProperties;
    if (typeof schema.maxProperties === "number") constraints.maxLen = schema.maxProperties;
    // protovalidate has no rule for the size of a google.protobuf.Struct.
    const sizes = ["minProperties", "maxProperties"].filter((k) => typeof schema[k] === "number");
    const struct = (notes: string[]): Resolved => ({
      shape: this.structShape(),
      nullable: false,
      constraints: {},
      notes: [
        ...notes,
        ...(sizes.length > 0 ? [`Checked by the upstream only: ${sizes.map((k) => `${k} ${schema[k]}`).join(", ")}.`] : []),
      ],
    });
    const extra = schema.additionalProperties;
    if (extra === undefined || extra === true || (isJsonObject(extra) && Object.keys(extra).length === 0)) return struct([]);
    if (extra === false) return struct(["An object without properties."]);
    const value = this.resolve(extra as JsonObject, { ...ctx, pointer: `${ctx.pointer}/additionalProperties`, hint: `${ctx.hint}_value` });
    if (value.shape.kind === "union") return struct(["A map of a union: carried as a Struct."]);
    const valueShape = value.nullable ? this.valueShape() : value.shape;
    return {
      shape: { kind: "map", value: this.mapValue(valueShape) },
      nullable: false,
      constraints,
      notes: value.nullable ? ["A map whose values may be null: values are google.protobuf.Value."] : [],
    };
  }

  // ---- shapes ------------------------------------------------------------

  private mapValue(shape: Shape): Shape {
    return shape.kind === "list" || shape.kind === "map" ? this.messageShape(this.wrapper(shape)) : shape;
  }

  private messageShape(message: MessageModel): Shape {
    return { kind: "message", message };
  }

  private structShape(): Shape {
    this.imports.add("google/protobuf/struct.proto");
    return { kind: "struct" };
  }

  private valueShape(): Shape {
    this.value();
    return { kind: "value" };
  }

  private value(): void {
    this.imports.add("google/protobuf/struct.proto");
  }

  /** The wrapper message of a list or map shape (one per shape, shared by the file). */
  private wrapper(shape: Shape): MessageModel {
    const name = shapeName(shape);
    const known = this.wrappers.get(name);
    if (known !== undefined) return known;
    const inner: Shape =
      shape.kind === "list"
        ? { kind: "list", item: this.mapValue(shape.item) }
        : shape.kind === "map"
          ? { kind: "map", value: this.mapValue(shape.value) }
          : shape;
    const message = newMessage(
      this.topNames.claim(name, ""),
      undefined,
      [
        `${name} holds a JSON ${shape.kind === "list" ? "list" : "object"} where a repeated or map field cannot stand by itself`,
        "(in a list, in a map, or where the value may be null).",
      ],
      { wrapper: true },
    );
    const field = makeField("values", 1, inner, false, false, {}, [`The ${shape.kind === "list" ? "items" : "entries"}.`]);
    message.fields.push(field);
    message.properties.push({ key: "values", kind: "field", field });
    this.wrappers.set(name, message);
    this.messages.push(message);
    return message;
  }
}

function newMessage(
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

function makeField(
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

function valueResolved(why: string): Resolved {
  return {
    shape: { kind: "value" },
    nullable: true,
    constraints: {},
    notes: [`Not mapped to a proto type: the schema ${why}; carried as google.protobuf.Value.`],
  };
}

function structResolved(): Resolved {
  return { shape: { kind: "struct" }, nullable: false, constraints: {}, notes: [] };
}

function withNotes(r: Resolved, notes: string[]): Resolved {
  return notes.length === 0 ? r : { ...r, notes: [...r.notes, ...notes] };
}

function uncheckedNotes(schema: JsonObject): string[] {
  const keys = UNCHECKED.filter((k) => k in schema);
  const format = typeof schema.format === "string" && schema.format !== "binary" ? [`format ${schema.format}`] : [];
  const all = [...keys, ...format];
  return all.length === 0 ? [] : [`Checked by the upstream only: ${all.join(", ")}.`];
}

function stringResolved(schema: JsonObject): Resolved {
  const constraints: Constraints = {};
  const notes: string[] = [];
  if (typeof schema.minLength === "number") constraints.minLen = schema.minLength;
  if (typeof schema.maxLength === "number") constraints.maxLen = schema.maxLength;
  if (typeof schema.pattern === "string") {
    // protovalidate's pattern is RE2: only a pattern both engines read alike becomes a rule.
    if (isRe2Compatible(schema.pattern)) constraints.pattern = schema.pattern;
    else
      notes.push(
        `The pattern ${JSON.stringify(schema.pattern)} is outside the subset RE2 and ECMAScript read alike: checked by the upstream only.`,
      );
  }
  const bytes = schema.contentEncoding === "base64";
  return { shape: { kind: "scalar", scalar: bytes ? "bytes" : "string" }, nullable: false, constraints, notes };
}

/** The narrowest proto integer type holding every value from `min` to `max`. */
function integerType(min: number | undefined, max: number | undefined): ScalarKind {
  if (min !== undefined && max !== undefined && min >= INT32_MIN && max <= INT32_MAX) return "int32";
  if (min !== undefined && min >= 0) return max !== undefined && max <= UINT32_MAX ? "uint32" : "uint64";
  return "int64";
}

/** gte/lte rules, leaving out the bounds the proto type has anyway. */
function boundsRules(type: ScalarKind, min: number | undefined, max: number | undefined): Constraints {
  const c: Constraints = {};
  const typeMin = type === "int32" ? INT32_MIN : type === "uint32" || type === "uint64" ? 0 : undefined;
  const typeMax = type === "int32" ? INT32_MAX : type === "uint32" ? UINT32_MAX : undefined;
  if (min !== undefined && min !== typeMin) c.gte = min;
  if (max !== undefined && max !== typeMax) c.lte = max;
  return c;
}

function integerResolved(schema: JsonObject): Resolved {
  const notes: string[] = [];
  let min = typeof schema.minimum === "number" ? schema.minimum : undefined;
  let max = typeof schema.maximum === "number" ? schema.maximum : undefined;
  if (typeof schema.exclusiveMinimum === "number") min = Math.max(min ?? -Infinity, Math.floor(schema.exclusiveMinimum) + 1);
  if (typeof schema.exclusiveMaximum === "number") max = Math.min(max ?? Infinity, Math.ceil(schema.exclusiveMaximum) - 1);
  if (schema.exclusiveMinimum === true && min !== undefined) min = Math.floor(min) + 1;
  if (schema.exclusiveMaximum === true && max !== undefined) max = Math.ceil(max) - 1;
  if (min !== undefined) min = Math.ceil(min);
  if (max !== undefined) max = Math.floor(max);
  const type = integerType(min, max);
  return { shape: { kind: "scalar", scalar: type }, nullable: false, constraints: boundsRules(type, min, max), notes };
}

function numberResolved(schema: JsonObject): Resolved {
  const constraints: Constraints = {};
  const notes: string[] = [];
  if (typeof schema.minimum === "number") constraints.gte = schema.minimum;
  if (typeof schema.maximum === "number") constraints.lte = schema.maximum;
  const exclusive = ["exclusiveMinimum", "exclusiveMaximum"].filter((k) => k in schema);
  if (exclusive.length > 0)
    notes.push(`Checked by the upstream only: ${exclusive.map((k) => `${k} ${JSON.stringify(schema[k])}`).join(", ")}.`);
  return { shape: { kind: "scalar", scalar: "double" }, nullable: false, constraints, notes };
}

/** `X_UNSPECIFIED` first and every value `X_...`: the values are proto enum names already. */
function protoStylePrefix(values: readonly string[]): string | undefined {
  const first = values[0];
  const m = first === undefined ? null : /^([A-Z][A-Z0-9_]*)_UNSPECIFIED$/.exec(first);
  if (m === null) return undefined;
  const prefix = m[1] as string;
  return values.every((v) => /^[A-Z][A-Z0-9_]*$/.test(v) && v.startsWith(`${prefix}_`)) && new Set(values).size === values.length
    ? prefix
    : undefined;
}

function isZeroDefault(shape: Shape, value: JsonValue): boolean {
  if (shape.kind === "enum") return value !== null && shape.enum.values.find((v) => v.json === value)?.number === 0;
  if (shape.kind !== "scalar") return true;
  switch (shape.scalar) {
    case "string":
    case "bytes":
      return value === "";
    case "bool":
      return value === false;
    default:
      return value === 0;
  }
}

function categoryOf(shape: Shape): Category {
  switch (shape.kind) {
    case "scalar":
      return shape.scalar === "bool"
        ? "boolean"
        : shape.scalar === "string" || shape.scalar === "bytes"
          ? "string"
          : shape.scalar === "double"
            ? "number"
            : "integer";
    case "enum":
    case "const":
      return "string";
    case "list":
      return "array";
    case "message":
      return shape.message.wrapper ? (shape.message.fields[0]?.shape.kind === "list" ? "array" : "object") : "object";
    case "map":
    case "struct":
      return "object";
    case "value":
      return "object";
  }
}

function memberLabel(shape: Shape, alt: JsonObject): string {
  if (shape.kind === "message" && !shape.message.wrapper) return shape.message.name;
  if (typeof alt.title === "string") return alt.title;
  return shapeName(shape);
}

/** A readable name of a shape, e.g. `Int64`, `ToolError`, `Int64List`, `StringMap`. */
function shapeName(shape: Shape): string {
  switch (shape.kind) {
    case "scalar":
      return pascalCase(shape.scalar);
    case "enum":
      return shape.enum.name;
    case "message":
      return shape.message.name;
    case "struct":
      return "Struct";
    case "value":
      return "Value";
    case "const":
      return "String";
    case "list":
      return `${shapeName(shape.item)}List`;
    case "map":
      return `${shapeName(shape.value)}Map`;
  }
}

function hasUnion(schema: JsonObject): boolean {
  return Array.isArray(schema.anyOf) || Array.isArray(schema.oneOf);
}

/** The discriminator property of a union of objects: Pydantic's `discriminator`, or a property every member fixes with `const`. */
function discriminatorOf(
  schema: JsonObject,
  members: readonly JsonObject[],
): { property: string; mapping: Record<string, string> } | undefined {
  const d = schema.discriminator;
  if (isJsonObject(d) && typeof d.propertyName === "string") {
    const mapping: Record<string, string> = {};
    if (isJsonObject(d.mapping)) for (const [k, v] of Object.entries(d.mapping)) if (typeof v === "string") mapping[k] = v;
    return { property: d.propertyName, mapping };
  }
  const objects = members.filter((m) => isJsonObject(m.properties));
  if (objects.length < 2) return undefined;
  const first = objects[0]?.properties as JsonObject;
  for (const key of Object.keys(first)) {
    const tags = objects.map((m) => constOf((m.properties as JsonObject)[key]));
    if (tags.every((t) => t.length > 0) && new Set(tags.flat()).size === tags.flat().length) return { property: key, mapping: {} };
  }
  return undefined;
}

function tagsOf(target: JsonObject, property: string, mapping: Record<string, string>, alt: JsonObject): string[] {
  const fromMapping = Object.entries(mapping)
    .filter(([, ref]) => ref === alt.$ref)
    .map(([k]) => k);
  if (fromMapping.length > 0) return fromMapping;
  const prop = isJsonObject(target.properties) ? target.properties[property] : undefined;
  return constOf(prop);
}

function constOf(schema: JsonValue | undefined): string[] {
  if (!isJsonObject(schema)) return [];
  if (typeof schema.const === "string") return [schema.const];
  if (Array.isArray(schema.enum) && schema.enum.every((v) => typeof v === "string")) return schema.enum as string[];
  return [];
}

/** A description as comment lines. */
function descriptionLines(schema: JsonObject): string[] {
  if (typeof schema.description !== "string" || schema.description.trim() === "") return [];
  const lines = schema.description
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** `Source: action #/properties/tool_name: string; required.` */
function sourceLine(section: Section, pointer: string, schema: JsonObject, required: boolean): string {
  const parts = [summarize(schema)];
  if (required) parts.push("required");
  else if ("default" in schema) parts.push(`default ${truncate(JSON.stringify(schema.default), 40)}`);
  return `Source: ${section} ${pointer}: ${parts.join("; ")}.`;
}

/** A short description of a schema's type, e.g. `array of integer`, `anyOf [string, null]`, `$ref ToolError`. */
function summarize(schema: JsonValue | undefined, depth = 0): string {
  if (!isJsonObject(schema)) return schema === true ? "any" : "never";
  if (depth > 3) return "…";
  if (typeof schema.$ref === "string") return `$ref ${schema.$ref.slice(schema.$ref.lastIndexOf("/") + 1)}`;
  const union = Array.isArray(schema.anyOf) ? "anyOf" : Array.isArray(schema.oneOf) ? "oneOf" : undefined;
  if (union !== undefined) return `${union} [${(schema[union] as JsonValue[]).map((s) => summarize(s, depth + 1)).join(", ")}]`;
  if ("const" in schema) return `const ${truncate(JSON.stringify(schema.const), 40)}`;
  if (Array.isArray(schema.enum)) return `enum ${truncate(JSON.stringify(schema.enum), 60)}`;
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : typeof schema.type === "string" ? schema.type : undefined;
  if (type === "array") {
    if (Array.isArray(schema.prefixItems)) return `tuple [${schema.prefixItems.map((s) => summarize(s, depth + 1)).join(", ")}]`;
    return `array of ${summarize(schema.items ?? true, depth + 1)}`;
  }
  if (type === "object" || (type === undefined && isJsonObject(schema.properties))) {
    if (isJsonObject(schema.properties)) return "object";
    const extra = schema.additionalProperties;
    return extra === undefined || extra === true ? "object (any keys)" : `object of ${summarize(extra, depth + 1)}`;
  }
  return type ?? "any";
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function canonical(v: JsonValue): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isJsonObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k] as JsonValue)}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function decodePointer(part: string): string {
  return part.replace(/~1/g, "/").replace(/~0/g, "~");
}
