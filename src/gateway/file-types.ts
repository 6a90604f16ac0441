import type { JsonObject } from "@bufbuild/protobuf";
import { enumValueName, NameScope, pascalCase, protoStylePrefix, shapeName, upperSnakeCase } from "./names.js";
import { type EnumModel, type MessageModel, makeField, messageShape, newMessage, type Shape } from "./proto-model.js";
import type { Context } from "./resolved-schema.js";
import { descriptionLines } from "./schema-comments.js";

/**
 * The types of the file being generated: top-level messages and enums, their
 * names, the imports they need, and the types shared across the file (one
 * wrapper message per list/map shape, one enum per proto-style value list).
 */
export class FileTypes {
  readonly messages: MessageModel[] = [];
  readonly enums: EnumModel[] = [];
  readonly topNames = new NameScope();
  readonly imports = new Set<string>();
  /** Stands for "the file" where a message would own nested types: what it creates goes to the top level. */
  readonly fileScope: MessageModel = newMessage("", undefined, [], {});
  /** Wrapper messages by the shape they wrap. */
  private readonly wrappers = new Map<string, MessageModel>();
  /** Enums written as proto enum names (`X_UNSPECIFIED` first), shared by their value list. */
  private readonly protoEnums = new Map<string, EnumModel>();

  /** A top-level message. */
  addMessage(name: string, comment: string[], flags: { wrapper?: boolean } = {}): MessageModel {
    const message = newMessage(this.topNames.claim(name, ""), undefined, comment, flags);
    this.messages.push(message);
    return message;
  }

  structShape(): Shape {
    this.useStruct();
    return { kind: "struct" };
  }

  valueShape(): Shape {
    this.useStruct();
    return { kind: "value" };
  }

  /** Struct and Value both live in struct.proto. */
  useStruct(): void {
    this.imports.add("google/protobuf/struct.proto");
  }

  /** A shape that can stand as one value of a list, a map or a oneof: a list or map becomes its wrapper message. */
  singular(shape: Shape): Shape {
    return shape.kind === "list" || shape.kind === "map" ? messageShape(this.wrapper(shape)) : shape;
  }

  /** The wrapper message of a list or map shape (one per shape, shared by the file). */
  wrapper(shape: Shape): MessageModel {
    const name = shapeName(shape);
    const known = this.wrappers.get(name);
    if (known !== undefined) return known;
    const inner: Shape =
      shape.kind === "list"
        ? { kind: "list", item: this.singular(shape.item) }
        : shape.kind === "map"
          ? { kind: "map", value: this.singular(shape.value) }
          : shape;
    const message = this.addMessage(
      name,
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
    return message;
  }

  /** The enum of a list of JSON strings: a `$defs` enum at the top level, an inline one nested in its owner. */
  enumOf(values: string[], schema: JsonObject, ctx: Context, defName?: string): EnumModel {
    const comment = [...descriptionLines(schema), `Source: ${ctx.section} ${ctx.pointer}.`];
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
        comment,
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
        ...values.map((v, i) => ({
          name: names.claim(enumValueName(prefix, v)),
          number: i + 1,
          json: v,
          comment: [`JSON value ${JSON.stringify(v)}.`],
        })),
      ],
      comment,
    };
    if (owner === undefined) this.enums.push(model);
    else owner.nestedEnums.push(model);
    return model;
  }
}
