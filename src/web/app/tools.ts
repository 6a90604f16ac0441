import { h, pretty } from "./dom.js";
import type { FieldError, JsonRecord } from "./form.js";
import { registerRenderer } from "./renderers.js";

/** A tool of a tool (MCP) environment, as the tools panel shows it. */
export interface ToolView {
  readonly name: string;
  readonly title: string;
  readonly description: string;
  /** The JSON Schema of its arguments (an object schema). */
  readonly inputSchema: JsonRecord;
  /** Its own time limit in seconds, when the server reports one. */
  readonly timeoutS: number | undefined;
}

/** One content block of a tool's result (MCP's `content`). */
export interface ToolContentView {
  readonly type: string;
  readonly text: string;
  readonly mimeType: string;
  readonly uri: string;
}

/** What a tool call answered, read from the step's observation. */
export interface ToolResultView {
  readonly toolName: string;
  readonly content: readonly ToolContentView[];
  readonly structuredContent: JsonRecord | undefined;
  readonly isError: boolean;
  /** OpenEnv's ToolError: `invalid_args`, `tool_not_found`, `execution_error`, `timeout`, `transport_error`. */
  readonly error: { readonly type: string; readonly message: string } | undefined;
}

/**
 * How a connection reaches the tools of a tool environment: their list (without
 * a step), and the action that calls one (a step, so rewards and step counts
 * apply, as OpenEnv does).
 */
export interface ToolSupport {
  list(): Promise<readonly ToolView[]>;
  callAction(name: string, args: JsonRecord): JsonRecord;
}

const isRecord = (v: unknown): v is JsonRecord => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Tools from Describe (proto JSON: `input_schema`) or MCP's `tools/list` (`inputSchema`). */
export function toolViews(tools: unknown): ToolView[] {
  if (!Array.isArray(tools)) return [];
  return tools.filter(isRecord).map((t) => {
    const schema = t.inputSchema ?? t.input_schema;
    const timeout = t.timeoutS ?? t.timeout_s;
    return {
      name: str(t.name),
      title: str(t.title),
      description: str(t.description),
      inputSchema: isRecord(schema) ? schema : { type: "object", properties: {} },
      timeoutS: typeof timeout === "number" && timeout > 0 ? timeout : undefined,
    };
  });
}

/**
 * The tool call's outcome in a step's observation: our ToolObservation as proto
 * JSON (`{call_tool: {...}}`, error types as enum names) or OpenEnv's
 * CallToolObservation (`{tool_name, result, error}`). Undefined when the
 * observation is not a tool call's.
 */
export function toolResult(observation: JsonRecord): ToolResultView | undefined {
  const call = isRecord(observation.call_tool) ? observation.call_tool : observation;
  if (typeof call.tool_name !== "string") return undefined;
  const result = isRecord(call.result) ? call.result : undefined;
  const error = isRecord(call.error) ? call.error : undefined;
  return {
    toolName: call.tool_name,
    content: (Array.isArray(result?.content) ? result.content : []).filter(isRecord).map((c) => ({
      type: str(c.type),
      text: str(c.text),
      mimeType: str(c.mime_type ?? c.mimeType),
      uri: str(c.uri),
    })),
    structuredContent: isRecord(result?.structured_content) ? result.structured_content : undefined,
    isError: result?.is_error === true,
    error:
      error === undefined
        ? undefined
        : {
            type: str(error.error_type)
              .replace(/^TOOL_ERROR_TYPE_/, "")
              .toLowerCase(),
            message: str(error.message),
          },
  };
}

/**
 * The arguments an `invalid_args` message names, in FastMCP's (Pydantic's)
 * words: `N validation error(s) for call[tool]`, then per error a line with the
 * argument and an indented line with the message.
 */
export function argumentErrors(message: string): FieldError[] {
  const lines = message.split("\n");
  if (!/^\d+ validation errors? for /.test(lines[0] ?? "")) return [];
  const out: FieldError[] = [];
  for (let i = 1; i < lines.length - 1; i++) {
    const loc = lines[i] as string;
    const msg = lines[i + 1] as string;
    if (loc.startsWith(" ") || !msg.startsWith("  ") || msg.startsWith("    ")) continue;
    out.push({ path: loc.trim().replace(/\.(\d+)(?=\.|$)/g, "[$1]"), message: msg.trim().replace(/ \[type=.*$/, "") });
    i++;
  }
  return out;
}

/** A tool result as DOM: its error, its text content, its structured content. */
export function drawToolResult(r: ToolResultView): HTMLElement {
  const parts: (Node | null)[] = [];
  if (r.error !== undefined) {
    parts.push(
      h(
        "p",
        { class: "tool-error", role: "alert" },
        h("strong", {}, r.error.type.replace(/_/g, " ")),
        ": ",
        h("span", {}, r.error.message),
      ),
    );
  }
  for (const c of r.content) {
    if (c.type === "text") parts.push(h("pre", { class: `mono tool-text${r.isError ? " bad" : ""}` }, c.text));
    else parts.push(h("p", { class: "muted" }, `${c.type} ${c.mimeType} ${c.uri}`.trim()));
  }
  if (r.structuredContent !== undefined) {
    parts.push(
      h(
        "details",
        { class: "raw" },
        h("summary", {}, "Structured content"),
        h("pre", { class: "mono json tool-structured" }, pretty(r.structuredContent)),
      ),
    );
  }
  return h("div", { class: "tool-result" }, ...parts);
}

// The observation pane draws tool observations too, on every page (our proto names and OpenEnv's titles).
const drawObservation = (o: JsonRecord): Node | undefined => {
  const r = toolResult(o);
  if (r !== undefined) return h("div", {}, h("p", {}, h("code", {}, r.toolName)), drawToolResult(r));
  const list = isRecord(o.list_tools) ? o.list_tools.tools : o.tools;
  if (Array.isArray(list)) return h("ul", { class: "tool-list" }, ...toolViews(list).map((t) => h("li", {}, h("code", {}, t.name))));
  return undefined;
};
registerRenderer("openenv.v1.ToolObservation", drawObservation);
registerRenderer("CallToolObservation", drawObservation);
registerRenderer("openenv.v1.ToolProgress", (p) => {
  const total = typeof p.total === "number" ? `/${p.total}` : "";
  return `${str(p.message) || "progress"} (${String(p.progress ?? "")}${total})\n`;
});
