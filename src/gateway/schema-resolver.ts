import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { isJsonObject } from "../protocol/json-object.js";
import type { Constraints } from "./field-rules.js";
import { FileTypes } from "./file-types.js";
import { canonical, deref, discriminatorOf, isObjectSchema, lookupDef, tagsOf } from "./json-schema.js";
import { pascalCase } from "./names.js";
import { type Category, type MemberMatch, type MessageModel, newMessage, type Shape } from "./proto-model.js";
import {
  type Context,
  categoryOf,
  memberLabel,
  messageResolved,
  type Resolved,
  type Section,
  valueResolved,
  withNotes,
} from "./resolved-schema.js";
import { descriptionLines } from "./schema-comments.js";
import {
  boundsRules,
  integerResolved,
  integerType,
  listRules,
  numberResolved,
  sizeRules,
  stringResolved,
  uncheckedNotes,
} from "./schema-constraints.js";

/** Keywords that change what values are valid in ways a proto type cannot say: the value becomes a Value. */
const STRUCTURAL = ["not", "if", "then", "else", "patternProperties", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems"];

/**
 * Maps one schema to what it becomes in proto ({@link Resolved}), creating
 * the messages and enums it needs. Objects with properties recurse through
 * {@link fillObject}, which model-builder.ts implements.
 */
export abstract class SchemaResolver {
  protected readonly types = new FileTypes();
  /** The section's root message, for `$ref: "#"`. */
  protected readonly roots = new Map<Section, MessageModel>();
  /** `$defs` already mapped, by name, with the canonical JSON of their schema. */
  private readonly defs = new Map<string, { canon: string; resolved: Resolved | undefined; name: string }[]>();

  protected abstract fillObject(message: MessageModel, schema: JsonObject, ctx: Context, skip: readonly string[]): void;

  protected resolve(schema: JsonObject, ctx: Context): Resolved {
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
    if ("const" in schema) return withNotes(this.resolveConst(schema.const as JsonValue), notes);
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
          shape: this.types.valueShape(),
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
      if (self !== undefined) return messageResolved(self);
    }
    const found = lookupDef(ctx.root, ref);
    const def = found?.schema;
    if (found === undefined || !isJsonObject(def)) {
      this.types.useStruct();
      return valueResolved(`refers to ${ref}, which the schema does not define`);
    }
    const defName = found.name;
    const canon = canonical(def);
    const known = this.defs.get(defName) ?? [];
    const same = known.find((k) => k.canon === canon);
    if (same !== undefined) {
      if (same.resolved === undefined) {
        // A recursive reference to a def being mapped: only objects can recurse.
        const message = this.types.messages.find((mm) => mm.name === same.name);
        if (message !== undefined) return messageResolved(message);
        return valueResolved(`refers to ${ref} recursively`);
      }
      return same.resolved;
    }
    const entry = { canon, resolved: undefined as Resolved | undefined, name: "" };
    known.push(entry);
    this.defs.set(defName, known);
    const target = deref(ctx.root, def);
    if (isObjectSchema(target)) {
      const message = this.types.addMessage(pascalCase(defName), [...descriptionLines(target), `Source: ${ctx.section} ${ref}.`]);
      entry.name = message.name;
      this.fillObject(message, target, { ...ctx, pointer: ref, owner: message, hint: defName }, []);
      entry.resolved = messageResolved(message);
      return entry.resolved;
    }
    const isEnum = Array.isArray(target.enum) && target.enum.every((v) => typeof v === "string" || v === null);
    if (isEnum) {
      entry.resolved = this.resolveEnum(
        target.enum as JsonValue[],
        target,
        { ...ctx, pointer: ref, owner: this.types.fileScope, hint: defName },
        defName,
      );
      return entry.resolved;
    }
    entry.resolved = this.resolve(target, { ...ctx, pointer: ref, hint: defName });
    return entry.resolved;
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
      members.map((m) => deref(ctx.root, m.alt)),
    );
    const out: { shape: Shape; label: string; match: MemberMatch; constraints: Constraints }[] = [];
    const seen = new Set<Category>();
    for (const { alt, resolved } of members) {
      const shape = this.types.singular(resolved.shape as Shape);
      const category = categoryOf(resolved.shape as Shape);
      const target = deref(ctx.root, alt);
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

  private resolveConst(value: JsonValue): Resolved {
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
    return valueResolved("is a constant object or array");
  }

  private resolveEnum(values: JsonValue[], schema: JsonObject, ctx: Context, defName?: string): Resolved {
    const nullable = values.includes(null);
    const rest = values.filter((v) => v !== null);
    if (rest.length === 0) return { ...valueResolved("is always null"), nullable: true };
    if (rest.every((v) => typeof v === "string")) {
      return {
        shape: { kind: "enum", enum: this.types.enumOf(rest as string[], schema, ctx, defName) },
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

  private resolveArray(schema: JsonObject, ctx: Context): Resolved {
    let itemSchema: JsonObject | undefined = isJsonObject(schema.items) ? schema.items : undefined;
    const notes: string[] = [];
    if (Array.isArray(schema.prefixItems)) {
      // A tuple: a list when every position has the same type.
      const items = schema.prefixItems.filter(isJsonObject);
      const canon = new Set(items.map((i) => canonical(deref(ctx.root, i))));
      if (canon.size !== 1 || (schema.items !== undefined && schema.items !== false)) {
        return valueResolved("is a tuple of different types");
      }
      itemSchema = items[0];
      notes.push(`A tuple of ${items.length} items.`);
    }
    if (itemSchema === undefined) {
      return {
        shape: { kind: "list", item: this.types.valueShape() },
        nullable: false,
        constraints: sizeRules(schema, "minItems", "maxItems"),
        notes: [...notes, "Items of any JSON type."],
      };
    }
    const item = this.resolve(itemSchema, { ...ctx, pointer: `${ctx.pointer}/items`, hint: `${ctx.hint}_item` });
    if (item.shape.kind === "union") return valueResolved("is a list of a union");
    if (item.nullable && item.shape.kind !== "value") return valueResolved("is a list whose items may be null");
    const itemShape = this.types.singular(item.shape);
    const constraints = listRules(schema, item.constraints, notes);
    return { shape: { kind: "list", item: itemShape }, nullable: false, constraints, notes: [...notes, ...item.notes] };
  }

  private resolveObject(schema: JsonObject, ctx: Context): Resolved {
    if (isJsonObject(schema.properties) && Object.keys(schema.properties).length > 0) {
      const title = typeof schema.title === "string" ? schema.title : ctx.hint;
      const name = ctx.owner.typeNames.claim(pascalCase(title), "");
      const fileLevel = ctx.owner === this.types.fileScope;
      const nested = newMessage(name, fileLevel ? undefined : ctx.owner, [`Source: ${ctx.section} ${ctx.pointer}.`], {});
      if (fileLevel) this.types.messages.push(nested);
      else ctx.owner.nestedMessages.push(nested);
      this.fillObject(nested, schema, { ...ctx, owner: nested }, []);
      return messageResolved(nested);
    }
    // protovalidate has no rule for the size of a google.protobuf.Struct.
    const sizes = ["minProperties", "maxProperties"].filter((k) => typeof schema[k] === "number");
    const struct = (notes: string[]): Resolved => ({
      shape: this.types.structShape(),
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
    const valueShape = value.nullable ? this.types.valueShape() : value.shape;
    return {
      shape: { kind: "map", value: this.types.singular(valueShape) },
      nullable: false,
      constraints: sizeRules(schema, "minProperties", "maxProperties"),
      notes: value.nullable ? ["A map whose values may be null: values are google.protobuf.Value."] : [],
    };
  }
}
