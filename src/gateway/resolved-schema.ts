import type { JsonObject } from "@bufbuild/protobuf";
import type { Constraints } from "./field-rules.js";
import { shapeName } from "./names.js";
import type { Category, MemberMatch, MessageModel, Shape } from "./proto-model.js";

/**
 * What one schema maps to before it is placed in a message: a shape (or a
 * union still to become a oneof), whether JSON null is allowed, its rules and
 * the notes for the field's comment.
 */

export type Section = "action" | "observation" | "state";

export type Union = {
  readonly kind: "union";
  readonly members: readonly {
    readonly shape: Shape;
    readonly label: string;
    readonly match: MemberMatch;
    readonly constraints: Constraints;
  }[];
  readonly discriminator: string | undefined;
};

export interface Resolved {
  readonly shape: Shape | Union;
  readonly nullable: boolean;
  readonly constraints: Constraints;
  readonly notes: string[];
}

export interface Context {
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

export function valueResolved(why: string): Resolved {
  return {
    shape: { kind: "value" },
    nullable: true,
    constraints: {},
    notes: [`Not mapped to a proto type: the schema ${why}; carried as google.protobuf.Value.`],
  };
}

export function structResolved(): Resolved {
  return { shape: { kind: "struct" }, nullable: false, constraints: {}, notes: [] };
}

export function messageResolved(message: MessageModel): Resolved {
  return { shape: { kind: "message", message }, nullable: false, constraints: {}, notes: [] };
}

export function withNotes(r: Resolved, notes: string[]): Resolved {
  return notes.length === 0 ? r : { ...r, notes: [...r.notes, ...notes] };
}

/** What tells a union member apart in JSON: the type of the value (a wrapper stands for its list or map). */
export function categoryOf(shape: Shape): Category {
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

/** Names the member's oneof field: a message by its name, else the alternative's title, else its shape. */
export function memberLabel(shape: Shape, alt: JsonObject): string {
  if (shape.kind === "message" && !shape.message.wrapper) return shape.message.name;
  if (typeof alt.title === "string") return alt.title;
  return shapeName(shape);
}
