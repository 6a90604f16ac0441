import { create, type DescMessage, fromJson, type JsonValue, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { enumNamesToNumbers, hasEnumFields } from "../protocol/enum-names.js";

/**
 * An environment's Action type, as `AutoAction.fromEnv` returns it: call it (or
 * `new` it) with a plain object of the Action's fields to get the typed message.
 * Fields may be named as in the `.proto` (`echoed_message`) or in camelCase,
 * enum values by name as in JSON (`"DIRECTION_RIGHT"`) or by number; an unknown
 * field or enum name is a `TypeError` (OpenEnv's actions forbid extra fields).
 *
 * @example
 * ```ts
 * const EchoAction = await AutoAction.fromEnv("echo");
 * const action = new EchoAction({ message: "hi" });
 * await env.step(action);
 * ```
 */
export interface ActionClass<D extends DescMessage = DescMessage> {
  new (init?: Record<string, unknown> | MessageInitShape<D>): MessageShape<D>;
  (init?: Record<string, unknown> | MessageInitShape<D>): MessageShape<D>;
  /** The generated schema of the Action message. */
  readonly schema: D;
  /** Full protobuf name, e.g. `openenv.envs.echo.v1.EchoAction`. */
  readonly typeName: string;
  /** Short name, e.g. `EchoAction`. */
  readonly className: string;
  /** Field names as in the `.proto` file. */
  readonly fields: readonly string[];
  /** Parses the Action's JSON form (proto JSON, OpenEnv's action object). */
  fromJson(json: JsonValue): MessageShape<D>;
}

/** Builds the {@link ActionClass} of a message schema. */
export function actionClass<D extends DescMessage>(schema: D): ActionClass<D> {
  const byName = new Map<string, string>();
  for (const f of schema.fields) {
    byName.set(f.localName, f.localName);
    byName.set(f.name, f.localName);
    byName.set(f.jsonName, f.localName);
  }
  for (const o of schema.oneofs) byName.set(o.localName, o.localName);
  const short = schema.typeName.slice(schema.typeName.lastIndexOf(".") + 1);
  const construct = (init?: Record<string, unknown>): MessageShape<D> => {
    if (init === undefined || init === null) return create(schema) as MessageShape<D>;
    if (typeof init !== "object" || Array.isArray(init)) throw new TypeError(`${short} takes an object of its fields`);
    if ("$typeName" in init) {
      if (init.$typeName !== schema.typeName) throw new TypeError(`${short}: expected ${schema.typeName}, got ${String(init.$typeName)}`);
      return init as MessageShape<D>;
    }
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(init)) {
      const local = byName.get(key);
      if (local === undefined) {
        throw new TypeError(`${short} has no field '${key}'; its fields: ${schema.fields.map((f) => f.name).join(", ") || "(none)"}`);
      }
      fields[local] = value;
    }
    if (hasEnumFields(schema)) {
      try {
        return create(schema, enumNamesToNumbers(schema, fields) as MessageInitShape<D>) as MessageShape<D>;
      } catch (err) {
        throw err instanceof TypeError ? new TypeError(`${short}: ${err.message}`) : err;
      }
    }
    return create(schema, fields as MessageInitShape<D>) as MessageShape<D>;
  };
  // A function (not an arrow) so `new` works too; returning an object from it makes `new` yield that object.
  const cls = function (this: unknown, init?: Record<string, unknown>) {
    return construct(init);
  } as unknown as ActionClass<D>;
  Object.defineProperties(cls, {
    name: { value: short },
    schema: { value: schema, enumerable: true },
    typeName: { value: schema.typeName, enumerable: true },
    className: { value: short, enumerable: true },
    fields: { value: Object.freeze(schema.fields.map((f) => f.name)), enumerable: true },
    fromJson: { value: (json: JsonValue) => fromJson(schema, json) as MessageShape<D> },
  });
  return cls;
}
