import { type DescMessage, fromJson, type JsonObject, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { validationError } from "../../protocol/errors.js";
import { validateMessage } from "../../protocol/validate.js";

/**
 * Reads an environment's reset options (the `options` Struct of a reset,
 * OpenEnv's extra reset kwargs) into its typed options message, using the
 * proto JSON mapping (so `max_steps` and `maxSteps` both work), and checks the
 * message's field rules. Unknown options and wrong types are
 * INVALID_ARGUMENT errors naming the option.
 */
export function parseResetOptions<D extends DescMessage>(schema: D, options: JsonObject): MessageShape<D> {
  let message: MessageShape<D>;
  try {
    message = fromJson(schema, options);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^cannot decode message [\w.]+ from JSON: /, "") : String(err);
    const known = schema.fields.map((f) => f.name).join(", ");
    throw new ConnectError(`invalid reset options: ${detail} (options of this environment: ${known})`, Code.InvalidArgument);
  }
  const violations = validateMessage(schema, message);
  if (violations.length > 0) throw validationError("reset options", violations);
  return message;
}
