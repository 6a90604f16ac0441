import {
  create,
  createFileRegistry,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonValue,
  type Registry,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { type Any, anyIs, anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createEnvelopeReadableStream } from "@connectrpc/connect/protocol";
import { createConnectTransport } from "@connectrpc/connect-web";
import {
  EnvironmentService,
  type StepError,
  StepRequestSchema,
  StepResponseSchema,
  type StepResult,
  ValidationErrorsSchema,
} from "../../../gen/openenv/v1/environment_service_pb.js";
import { keepSessionHeader } from "../../core/step-input.js";
import { envelope, readEndOfStream, STEP_CONTENT_TYPES, STEP_PATH } from "../../protocol/step-wire.js";
import {
  AuthRequired,
  authHeaders,
  CallError,
  type Credentials,
  type EnvConnection,
  type EnvDescription,
  type PartialView,
  type StepView,
} from "./connection.js";
import { fieldsFromMessage } from "./fields.js";
import type { FieldError, JsonRecord } from "./form.js";
import { type ToolSupport, toolViews } from "./tools.js";

/** The action of every tool (MCP) environment. */
const TOOL_ACTION = "openenv.v1.ToolAction";
/** The page's Step call: half-duplex over HTTP/1.1 (fetch cannot stream a request body), in Connect's binary streaming protocol. */
const stepHeaders = {
  "content-type": STEP_CONTENT_TYPES.connect,
  "connect-protocol-version": "1",
};

/** The JSON the page works with: proto field names, every field present. */
function messageJson(desc: DescMessage, msg: Parameters<typeof toJson>[1], registry: Registry): JsonRecord {
  return toJson(desc, msg, { useProtoFieldName: true, alwaysEmitImplicit: true, registry }) as JsonRecord;
}

function codeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function violations(details: readonly Any[]): FieldError[] {
  const out: FieldError[] = [];
  for (const d of details) {
    if (!anyIs(d, ValidationErrorsSchema)) continue;
    const v = anyUnpack(d, ValidationErrorsSchema);
    for (const f of v?.violations ?? []) out.push({ path: f.field, message: f.description });
  }
  return out;
}

function fromConnectError(err: unknown): CallError {
  const e = ConnectError.from(err);
  if (e.code === Code.Unauthenticated) return new AuthRequired(e.rawMessage);
  const fields = e.findDetails(ValidationErrorsSchema).flatMap((v) => v.violations.map((f) => ({ path: f.field, message: f.description })));
  return new CallError(e.rawMessage, codeName(e.code), fields);
}

/**
 * Talks the server's own protocol: Connect unary calls (binary, HTTP/1.1 from a
 * browser) for Describe, Reset, State and CloseSession; each action is one
 * half-duplex Step call (a whole request body, the response read as it streams),
 * so partial observations arrive live.
 */
export class ConnectBackend implements EnvConnection {
  readonly transport = "Connect (binary protobuf) · Step stream, half-duplex";
  private sessionId = "";
  private requestCounter = 0;
  /** Tools from Describe; a call is a `call_tool` action (proto JSON). */
  readonly tools: ToolSupport | undefined;

  private constructor(
    private readonly baseUrl: string,
    private readonly credentials: Credentials,
    private readonly client: Client<typeof EnvironmentService>,
    private readonly registry: Registry,
    private readonly action: DescMessage,
    readonly description: EnvDescription,
  ) {
    const tools = description.tools;
    this.tools =
      tools === undefined
        ? undefined
        : { list: async () => tools, callAction: (name, args) => ({ call_tool: { tool_name: name, arguments: args } }) };
  }

  /**
   * Describes the environment; undefined when the server has no Describe (an
   * OpenEnv server). Throws {@link AuthRequired} when it wants a token.
   */
  static async open(baseUrl: string, credentials: Credentials): Promise<ConnectBackend | undefined> {
    const auth: Interceptor = (next) => (req) => {
      const token = credentials.token();
      if (token !== undefined) req.header.set("authorization", `Bearer ${token}`);
      return next(req);
    };
    const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [auth] });
    const client = createClient(EnvironmentService, transport);
    let res: Awaited<ReturnType<typeof client.describe>>;
    try {
      res = await client.describe({});
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.Unauthenticated) throw new AuthRequired(e.rawMessage);
      // 404 (no such route) and 415 (not a Connect server) mean: try OpenEnv's protocol.
      if (e.code === Code.Unimplemented || e.code === Code.NotFound || e.code === Code.Internal || e.code === Code.Unknown)
        return undefined;
      throw fromConnectError(e);
    }
    if (res.descriptors === undefined) return undefined;
    const registry = createFileRegistry(res.descriptors);
    const action = registry.getMessage(res.actionType);
    if (action === undefined) throw new CallError(`Describe names ${res.actionType} but does not describe it`, "internal");
    // The reset options message is not named by Describe; environments declare it beside the action by convention.
    const resetOptions = [...registry].find(
      (t): t is DescMessage => t.kind === "message" && t.file === action.file && t.name.endsWith("ResetOptions"),
    );
    const md = res.metadata;
    const description: EnvDescription = {
      name: md?.name ?? "environment",
      description: md?.description ?? "",
      version: md?.version ?? "",
      readme: md?.readme ?? "",
      actionFields: fieldsFromMessage(action),
      resetFields: resetOptions === undefined ? undefined : fieldsFromMessage(resetOptions),
      actionType: res.actionType,
      observationType: res.observationType,
      partialType: res.partialType,
      stateType: res.stateType,
      rewardComponents: res.capabilities?.rewardComponents ?? [],
      partialObservations: res.capabilities?.partialObservations ?? false,
      tools: res.tools.length > 0 || res.actionType === TOOL_ACTION ? toolViews(res.tools) : undefined,
    };
    return new ConnectBackend(baseUrl, credentials, client, registry, action, description);
  }

  /** Whether the server serves Step to a browser (HTTP/1.1 half-duplex); connect-node alone answers 505. */
  static async stepStreamAvailable(baseUrl: string, credentials: Credentials): Promise<boolean> {
    try {
      // An empty stream: no session is opened, the answer is an empty 200 where Step is served.
      const res = await fetch(baseUrl + STEP_PATH, {
        method: "POST",
        headers: { ...stepHeaders, ...authHeaders(credentials) },
        body: new Uint8Array(0),
      });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  private view(result: StepResult | undefined): StepView {
    if (result === undefined) throw new CallError("the server sent no result", "internal");
    return {
      observation: this.unpack(result.observation),
      reward: result.reward ?? null,
      done: result.done,
      terminated: result.terminated,
      truncated: result.truncated,
      metadata: (result.metadata ?? {}) as JsonRecord,
      rewardComponents: result.rewardComponents,
      stepCount: result.stepCount,
      episodeId: result.episodeId,
    };
  }

  private unpack(any: Any | undefined): JsonRecord {
    if (any === undefined) return {};
    const desc = this.registry.getMessage(any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1));
    if (desc === undefined) return { "@type": any.typeUrl };
    return messageJson(desc, fromBinary(desc, any.value), this.registry);
  }

  async reset(params: { seed?: string; episodeId?: string; options?: JsonRecord }): Promise<StepView> {
    try {
      const res = await this.client.reset({
        sessionId: this.sessionId,
        seed: params.seed === undefined ? undefined : BigInt(params.seed),
        episodeId: params.episodeId,
        options: params.options as never,
      });
      this.sessionId = res.sessionId;
      return this.view(res.result);
    } catch (err) {
      const e = ConnectError.from(err);
      // The session is gone (idle timeout, server restart): open a new one.
      if (e.code === Code.NotFound && this.sessionId !== "") {
        this.sessionId = "";
        return this.reset(params);
      }
      throw fromConnectError(e);
    }
  }

  async step(actionJson: JsonRecord, onPartial: (p: PartialView) => void): Promise<StepView> {
    if (this.sessionId === "") throw new CallError("reset first: there is no session yet", "failed_precondition");
    let action: ReturnType<typeof fromJson>;
    try {
      action = fromJson(this.action, actionJson as JsonValue, { registry: this.registry });
    } catch (err) {
      throw jsonError(err, this.action);
    }
    const requestId = `web-${Date.now().toString(36)}-${++this.requestCounter}`;
    const req = create(StepRequestSchema, {
      requestId,
      sessionId: this.sessionId,
      command: { case: "action", value: anyPack(this.action, action) },
    });
    const res = await fetch(this.baseUrl + STEP_PATH, {
      method: "POST",
      headers: { ...stepHeaders, [keepSessionHeader]: "true", ...authHeaders(this.credentials) },
      body: envelope(toBinary(StepRequestSchema, req)),
    });
    if (res.status === 401) throw new AuthRequired("the server wants a token");
    if (res.status !== 200 || res.body === null) throw new CallError(`Step answered HTTP ${res.status}`, "unavailable");
    let result: StepView | undefined;
    const reader = createEnvelopeReadableStream(res.body).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const end = readEndOfStream("connect", value.flags, value.data);
      if (end !== undefined) {
        if (end.error !== undefined) throw fromConnectError(end.error);
        continue;
      }
      const reply = fromBinary(StepResponseSchema, value.data);
      if (reply.kind.case === "partial") {
        onPartial({ observation: this.unpack(reply.kind.value.observation), progress: reply.kind.value.progress });
      } else if (reply.kind.case === "result") {
        result = this.view(reply.kind.value);
      } else if (reply.kind.case === "error") {
        throw stepError(reply.kind.value);
      }
    }
    if (result === undefined) throw new CallError("the Step stream ended without a result", "internal");
    return result;
  }

  async state(): Promise<JsonRecord> {
    if (this.sessionId === "") throw new CallError("reset first: there is no session yet", "failed_precondition");
    try {
      const res = await this.client.state({ sessionId: this.sessionId });
      return this.unpack(res.state);
    } catch (err) {
      throw fromConnectError(err);
    }
  }

  close(): void {
    if (this.sessionId === "") return;
    const body = JSON.stringify({ sessionId: this.sessionId });
    this.sessionId = "";
    // keepalive: the request outlives the page when it is being closed.
    void fetch(`${this.baseUrl}/openenv.v1.EnvironmentService/CloseSession`, {
      method: "POST",
      keepalive: true,
      headers: { "content-type": "application/json", "connect-protocol-version": "1", ...authHeaders(this.credentials) },
      body,
    }).catch(() => {});
  }
}

function stepError(err: StepError): CallError {
  if (err.code === Code.Unauthenticated) return new AuthRequired(err.message);
  return new CallError(err.message, codeName(err.code as Code), violations(err.details));
}

/** A JSON value the action message cannot hold, with the field named when protobuf-es names it. */
function jsonError(err: unknown, action: DescMessage): CallError {
  const message = err instanceof Error ? err.message : String(err);
  const m = new RegExp(`${action.typeName.replace(/\./g, "\\.")}\\.(\\w+)`).exec(message);
  const path = m?.[1];
  const text = message.replace(/^cannot decode (message|field) [\w.]+ from JSON: ?/, "");
  return new CallError(`invalid action: ${message}`, "invalid_argument", path === undefined ? [] : [{ path, message: text || message }]);
}
