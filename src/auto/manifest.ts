// The manifest format: its fields, the one pass over the YAML that checks them where their line is known, and
// the issues it reports. One file because adding a field touches all three together, and parseManifest's checks
// share its position and warning bookkeeping.
import { readFileSync } from "node:fs";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { closeMatches } from "./names.js";

/**
 * An environment's `openenv.yaml`, validated. OpenEnv's fields keep their
 * meaning; `app`, `action`, `observation` and `state` are ours: the module (relative
 * to the manifest) exporting the Environment class, and the full protobuf names
 * of its messages.
 *
 * ```yaml
 * spec_version: 1
 * name: echo_env
 * version: 1.0.0
 * description: Echoes each message back
 * type: space
 * runtime: openenv-connect
 * app: ./environment.js#EchoEnvironment
 * port: 8000
 * default_image: openenv-echo:latest
 * action: openenv.envs.echo.v1.EchoAction
 * observation: openenv.envs.echo.v1.EchoObservation
 * state: openenv.envs.echo.v1.EchoState
 * ```
 */
export interface EnvManifest {
  /** Manifest format version; this release reads 1. */
  readonly specVersion: number;
  /** Environment name as written, e.g. `echo_env`. */
  readonly name: string;
  /** Version of the environment, if given. */
  readonly version: string | undefined;
  /** One-line description, if given. */
  readonly description: string | undefined;
  /** OpenEnv's deployment type (`space`), informational. */
  readonly type: string | undefined;
  /** Always `openenv-connect` for environments this package can serve. */
  readonly runtime: string;
  /** The module exporting the Environment class, and the export's name. */
  readonly app: { readonly module: string; readonly exportName: string };
  /** Port the server listens on in a container. Default 8000. */
  readonly port: number;
  /** Container image for the Docker provider, if given. */
  readonly defaultImage: string | undefined;
  /** Full protobuf name of the Action message. */
  readonly action: string;
  /** Full protobuf name of the Observation message. */
  readonly observation: string;
  /** Full protobuf name of the State message. */
  readonly state: string;
  /** OpenEnv's `variables` (Space variables): name → value. */
  readonly variables: Readonly<Record<string, string>>;
  /**
   * Ours: the environment runs untrusted code in sandboxes (`sandbox: {network: false}`,
   * or `sandbox: true`). `openenv serve` then checks at start that sandboxes can be made,
   * and `network` is the sandboxes' default network access. Undefined: no sandbox needed.
   */
  readonly sandbox: { readonly network: boolean } | undefined;
  /** The whole document as parsed, including fields this release does not read. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Line and column of each top-level field, for error messages. */
  readonly positions: Readonly<Record<string, SourcePosition>>;
}

/** A 1-based position in a file. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** One problem in a manifest, located. */
export interface ManifestIssue extends SourcePosition {
  readonly file: string;
  /** The top-level field at fault; undefined for syntax errors. */
  readonly field: string | undefined;
  readonly message: string;
  readonly severity: "error" | "warning";
}

/** `file:line:column: field 'x': message`, the format every manifest problem is printed in. */
export function formatIssue(issue: ManifestIssue): string {
  const where = `${issue.file}:${issue.line}:${issue.column}`;
  return `${where}: ${issue.field === undefined ? "" : `field '${issue.field}': `}${issue.message}`;
}

/** A manifest that cannot be used; `issues` locates every error (file, line, column, field). */
export class ManifestError extends Error {
  override readonly name = "ManifestError";

  constructor(
    readonly file: string,
    readonly issues: readonly ManifestIssue[],
  ) {
    super(
      issues.length === 1
        ? `invalid manifest ${formatIssue(issues[0]!)}`
        : `invalid manifest ${file}:\n${issues.map((i) => `  ${formatIssue(i)}`).join("\n")}`,
    );
  }

  /** The first error's field. */
  get field(): string | undefined {
    return this.issues[0]?.field;
  }

  /** The first error's line. */
  get line(): number {
    return this.issues[0]?.line ?? 1;
  }
}

/** A parsed manifest with its warnings (unknown fields and the like). */
export interface ParsedManifest {
  readonly manifest: EnvManifest;
  readonly warnings: readonly ManifestIssue[];
}

/** The manifest format version this release reads. */
export const specVersion = 1;
/** The runtime of environments served by this package. */
export const runtimeName = "openenv-connect";

const knownFields = [
  "spec_version",
  "name",
  "version",
  "description",
  "type",
  "runtime",
  "app",
  "port",
  "default_image",
  "action",
  "observation",
  "state",
  "client",
  "variables",
  "sandbox",
] as const;

const protoName = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const appPattern = /^(\.\.?\/[^#\s]+)#([A-Za-z_$][A-Za-z0-9_$]*)$/;
const envName = /^[A-Za-z][A-Za-z0-9_-]*$/;

/** Reads and validates a manifest file; throws {@link ManifestError} naming file, line and field. */
export function loadManifest(file: string): ParsedManifest {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (err as Error).message;
    throw new ManifestError(file, [{ file, line: 1, column: 1, field: undefined, message: reason, severity: "error" }]);
  }
  return parseManifest(text, file);
}

/** Validates manifest text; `file` names it in errors. Throws {@link ManifestError}. */
export function parseManifest(text: string, file: string): ParsedManifest {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const errors: ManifestIssue[] = [];
  const warnings: ManifestIssue[] = [];
  const at = (offset: number | undefined): SourcePosition => {
    if (offset === undefined) return { line: 1, column: 1 };
    const p = lines.linePos(offset);
    return { line: Math.max(1, p.line), column: Math.max(1, p.col) };
  };
  for (const e of doc.errors) {
    const key = /Map keys must be unique/.test(e.message) ? duplicateKey(text, e.pos[0]) : undefined;
    errors.push({ file, ...at(e.pos[0]), field: key, message: firstLine(e.message), severity: "error" });
  }
  if (errors.length > 0) throw new ManifestError(file, errors);
  const root = doc.contents;
  if (!isMap(root)) {
    const pos = at(root?.range?.[0]);
    throw new ManifestError(file, [
      {
        file,
        ...pos,
        field: undefined,
        message: "the manifest must be a mapping of fields (spec_version, name, app, ...)",
        severity: "error",
      },
    ]);
  }
  const values = new Map<string, { value: unknown; node: Node | null; pos: SourcePosition }>();
  const positions: Record<string, SourcePosition> = {};
  for (const pair of root.items) {
    const keyNode = pair.key as Node | null;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const keyPos = at(keyNode?.range?.[0]);
    const valueNode = pair.value as Node | null;
    const pos = valueNode?.range == null ? keyPos : at(valueNode.range[0]);
    positions[key] = pos;
    values.set(key, { value: valueNode === null ? null : (valueNode.toJSON() as unknown), node: valueNode, pos });
    if (!(knownFields as readonly string[]).includes(key)) {
      const near = closeMatches(key, knownFields, 1);
      warnings.push({
        file,
        ...keyPos,
        field: key,
        message: `unknown field (ignored)${near.length > 0 ? `; did you mean '${near[0]}'?` : ""}`,
        severity: "warning",
      });
    }
  }
  const start = at(root.range?.[0]);
  const fail = (field: string, message: string, pos?: SourcePosition): void => {
    errors.push({ file, ...(pos ?? values.get(field)?.pos ?? start), field, message, severity: "error" });
  };
  const str = (field: string, required: boolean, example: string): string | undefined => {
    const entry = values.get(field);
    if (entry === undefined || entry.value === null || entry.value === "") {
      if (required) fail(field, `required field is missing; e.g. ${field}: ${example}`, start);
      return undefined;
    }
    if (typeof entry.value !== "string") {
      const got = typeof entry.value === "object" ? "a mapping or list" : `${typeof entry.value} ${JSON.stringify(entry.value)}`;
      fail(
        field,
        `must be a string, got ${got}${typeof entry.value === "number" ? ` (quote it: ${field}: "${String(entry.value)}")` : ""}`,
      );
      return undefined;
    }
    return entry.value;
  };

  const spec = values.get("spec_version");
  if (spec === undefined) fail("spec_version", `required field is missing; e.g. spec_version: ${specVersion}`, start);
  else if (spec.value !== specVersion) {
    fail("spec_version", `unsupported value ${JSON.stringify(spec.value)}; this release reads spec_version: ${specVersion}`);
  }

  const name = str("name", true, "echo_env");
  if (name !== undefined && !envName.test(name)) {
    fail("name", `'${name}' is not a valid environment name (letters, digits, '_' and '-', starting with a letter)`);
  }
  const version = stringish("version");
  const description = str("description", false, "");
  const type = str("type", false, "space");
  if (type !== undefined && type !== "space") {
    warnings.push({
      file,
      ...values.get("type")!.pos,
      field: "type",
      message: `unknown type '${type}' (OpenEnv uses 'space')`,
      severity: "warning",
    });
  }
  const runtime = str("runtime", false, runtimeName) ?? runtimeName;
  if (runtime !== runtimeName) {
    fail(
      "runtime",
      `'${runtime}' is not served by openenv-connect (expected '${runtimeName}'); a Python OpenEnv environment can only be reached by URL`,
    );
  }
  const appText = str("app", true, "./environment.js#MyEnvironment");
  let app: EnvManifest["app"] | undefined;
  if (appText !== undefined) {
    const m = appPattern.exec(appText.trim());
    if (m === null) {
      fail("app", `'${appText}' must be '<module path relative to the manifest>#<exported class>', e.g. ./environment.js#EchoEnvironment`);
    } else {
      app = { module: m[1]!, exportName: m[2]! };
    }
  }
  let port = 8000;
  const portEntry = values.get("port");
  if (portEntry !== undefined) {
    const v = portEntry.value;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 65535) {
      fail("port", `must be an integer from 1 to 65535, got ${JSON.stringify(v)}`);
    } else {
      port = v;
    }
  }
  const defaultImage = str("default_image", false, "openenv-echo:latest");
  if (defaultImage !== undefined && /\s/.test(defaultImage))
    fail("default_image", `'${defaultImage}' is not an image reference (no spaces)`);
  const messages: Record<"action" | "observation" | "state", string | undefined> = {
    action: undefined,
    observation: undefined,
    state: undefined,
  };
  for (const field of ["action", "observation", "state"] as const) {
    const entry = values.get(field);
    const example = `openenv.envs.echo.v1.Echo${field[0]!.toUpperCase()}${field.slice(1)}`;
    if (entry !== undefined && entry.value !== null && typeof entry.value === "object") {
      fail(
        field,
        `must be the full protobuf name of the ${field} message, e.g. ${example} (OpenEnv's {class_name, module} form names Python classes)`,
      );
      continue;
    }
    const v = str(field, true, example);
    if (v !== undefined && !protoName.test(v)) {
      fail(field, `'${v}' is not a full protobuf message name (package.Message), e.g. ${example}`);
      continue;
    }
    messages[field] = v;
  }
  const variables: Record<string, string> = {};
  const vars = values.get("variables");
  if (vars !== undefined && vars.value !== null) {
    if (typeof vars.value !== "object" || Array.isArray(vars.value)) {
      fail("variables", "must be a mapping of NAME: value");
    } else {
      for (const [k, v] of Object.entries(vars.value as Record<string, unknown>)) {
        if (v !== null && typeof v === "object") fail("variables", `variable '${k}' must be a scalar`);
        else variables[k] = String(v);
      }
    }
  }
  let sandbox: EnvManifest["sandbox"];
  const sandboxEntry = values.get("sandbox");
  if (sandboxEntry !== undefined && sandboxEntry.value !== null && sandboxEntry.value !== false) {
    const v = sandboxEntry.value;
    if (v === true) sandbox = { network: false };
    else if (typeof v !== "object" || Array.isArray(v)) fail("sandbox", "must be true or a mapping such as {network: false}");
    else {
      const extra = Object.keys(v as object).filter((k) => k !== "network");
      const network = (v as { network?: unknown }).network ?? false;
      if (extra.length > 0) fail("sandbox", `unknown key '${extra[0]}' (the sandbox takes: network)`);
      else if (typeof network !== "boolean") fail("sandbox", `network must be true or false, got ${JSON.stringify(network)}`);
      else sandbox = { network };
    }
  }
  const client = values.get("client");
  if (client !== undefined && client.value !== null && typeof client.value !== "object") {
    fail("client", "must be a mapping (OpenEnv's {class_name, module}); openenv-connect's client is generic and ignores it");
  }
  if (errors.length > 0)
    throw new ManifestError(
      file,
      errors.sort((a, b) => a.line - b.line || a.column - b.column),
    );
  return {
    manifest: {
      specVersion,
      name: name!,
      version,
      description,
      type,
      runtime,
      app: app!,
      port,
      defaultImage,
      action: messages.action!,
      observation: messages.observation!,
      state: messages.state!,
      variables,
      sandbox,
      raw: Object.fromEntries([...values].map(([k, v]) => [k, v.value])),
      positions,
    },
    warnings,
  };

  // YAML reads `version: 1.0` as a number: accept it, as OpenEnv does, but say how to keep it exact.
  function stringish(field: string): string | undefined {
    const entry = values.get(field);
    if (entry === undefined || entry.value === null) return undefined;
    if (typeof entry.value === "number") {
      warnings.push({
        file,
        ...entry.pos,
        field,
        message: `read as the number ${entry.value}; quote it to keep it exact (${field}: "${entry.node === null ? entry.value : String(entry.node)}")`,
        severity: "warning",
      });
      return String(entry.value);
    }
    return str(field, false, "1.0.0");
  }
}

function firstLine(message: string): string {
  return message.split("\n")[0]!.trim();
}

function duplicateKey(text: string, offset: number): string | undefined {
  const m = /^\s*([A-Za-z_][\w-]*)\s*:/.exec(text.slice(offset));
  return m?.[1];
}
