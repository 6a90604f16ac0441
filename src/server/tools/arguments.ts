import { createRegistry, type DescMessage, type JsonObject, type JsonValue, type Message } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { type CallToolAction, ToolErrorType } from "../../../gen/openenv/v1/tools_pb.js";
import { decodeOpenEnvJson } from "../../openenv/json/decode.js";
import { missingField, type OpenEnvFieldError, pydanticText } from "../../openenv/pydantic-errors.js";
import { validateMessage } from "../../protocol/validate.js";
import { type ToolDefinition, ToolError } from "./define.js";

/**
 * Checks a call's arguments against its tool's input and returns what the
 * handler gets: the decoded message for a proto-typed tool, the JSON object
 * for a JSON-Schema tool. A mismatch is a ToolError `invalid_args` whose
 * message is worded as FastMCP (Pydantic) words it, e.g.
 * `1 validation error for call[echo_message]\nmessage\n  Missing required argument [...]`.
 */
export function checkArguments(tool: ToolDefinition, call: CallToolAction): Message | JsonObject {
  const input = tool.input;
  if (input !== undefined) return protoArguments(tool, input, call);
  if (call.typedArguments !== undefined) {
    throw new ToolError(ToolErrorType.INVALID_ARGS, `tool '${tool.name}' takes JSON arguments, not typed_arguments`);
  }
  const args = call.arguments ?? {};
  const schema = tool.inputSchema;
  if (schema === undefined) {
    const extra = Object.keys(args).map((k) => extraArgument(k, args[k] as JsonValue));
    if (extra.length > 0) throw invalid(tool, extra);
    return args;
  }
  const validate = compiled(schema);
  if (!validate(args))
    throw invalid(
      tool,
      (validate.errors ?? []).map((e) => fromAjv(e, args)),
    );
  return args;
}

function protoArguments(tool: ToolDefinition, input: DescMessage, call: CallToolAction): Message {
  const typed = call.typedArguments;
  if (typed !== undefined) {
    if (call.arguments !== undefined && Object.keys(call.arguments).length > 0) {
      throw new ToolError(ToolErrorType.INVALID_ARGS, "set arguments or typed_arguments, not both");
    }
    const message = anyUnpack(typed, createRegistry(input));
    if (message === undefined || message.$typeName !== input.typeName) {
      throw new ToolError(
        ToolErrorType.INVALID_ARGS,
        `tool '${tool.name}' takes ${input.typeName} arguments, got ${typed.typeUrl.slice(typed.typeUrl.lastIndexOf("/") + 1) || "an empty Any"}`,
      );
    }
    const violations = validateMessage(input, message);
    if (violations.length > 0) {
      throw new ToolError(
        ToolErrorType.INVALID_ARGS,
        `invalid arguments for tool '${tool.name}': ${violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`,
      );
    }
    return message;
  }
  const decoded = decodeOpenEnvJson(input, call.arguments ?? {});
  if (!decoded.ok) throw invalid(tool, decoded.errors.map(asArgumentError));
  return decoded.message;
}

/** FastMCP validates a call's keyword arguments: a missing one and an unknown one have their own words. */
function asArgumentError(e: OpenEnvFieldError): OpenEnvFieldError {
  if (e.loc.length === 1 && e.type === "missing") return { ...e, type: "missing_argument", msg: "Missing required argument" };
  if (e.loc.length === 1 && e.type === "extra_forbidden") return extraArgument(String(e.loc[0]), e.input);
  return e;
}

function extraArgument(name: string, input: JsonValue): OpenEnvFieldError {
  return { type: "unexpected_keyword_argument", loc: [name], msg: "Unexpected keyword argument", input };
}

function invalid(tool: ToolDefinition, errors: readonly OpenEnvFieldError[]): ToolError {
  return new ToolError(ToolErrorType.INVALID_ARGS, pydanticText(`call[${tool.name}]`, errors));
}

const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
const cache = new WeakMap<JsonObject, ValidateFunction>();

function compiled(schema: JsonObject): ValidateFunction {
  let fn = cache.get(schema);
  if (fn === undefined) {
    fn = ajv.compile(schema);
    cache.set(schema, fn);
  }
  return fn;
}

const TYPE_WORDS: Record<string, [string, string]> = {
  string: ["string_type", "Input should be a valid string"],
  integer: ["int_type", "Input should be a valid integer"],
  number: ["float_type", "Input should be a valid number"],
  boolean: ["bool_type", "Input should be a valid boolean"],
  object: ["dict_type", "Input should be a valid dictionary"],
  array: ["list_type", "Input should be a valid list"],
  null: ["none_required", "Input should be None"],
};

/** An Ajv error in Pydantic's shape, with FastMCP's words for missing and unexpected arguments. */
function fromAjv(e: ErrorObject, root: JsonObject): OpenEnvFieldError {
  const loc = e.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const at = valueAt(root, loc);
  switch (e.keyword) {
    case "required": {
      const name = String((e.params as { missingProperty: string }).missingProperty);
      return loc.length === 0
        ? { type: "missing_argument", loc: [name], msg: "Missing required argument", input: root }
        : missingField([...loc, name], at);
    }
    case "additionalProperties": {
      const name = String((e.params as { additionalProperty: string }).additionalProperty);
      const value = (at as JsonObject)[name] as JsonValue;
      return loc.length === 0
        ? extraArgument(name, value)
        : { type: "extra_forbidden", loc: [...loc, name], msg: "Extra inputs are not permitted", input: value };
    }
    case "type": {
      const wanted = String((e.params as { type: string | string[] }).type).split(",")[0] ?? "";
      const [type, msg] = TYPE_WORDS[wanted] ?? ["type_error", `Input should be ${wanted}`];
      return { type, loc, msg, input: at };
    }
    default:
      return { type: e.keyword, loc, msg: e.message ?? "invalid", input: at };
  }
}

function valueAt(root: JsonValue, loc: readonly (string | number)[]): JsonValue {
  let v: JsonValue = root;
  for (const p of loc) v = (v as Record<string | number, JsonValue>)?.[p] ?? null;
  return v;
}
