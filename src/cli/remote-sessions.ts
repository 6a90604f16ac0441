import { type DescMessage, fromJson, type JsonObject, type JsonValue, type Message, type Registry, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { EnvStepResult } from "../client/backend.js";
import type { EnvClient } from "../client/env-client.js";
import type { GenericEnvClient, GenericStepResult } from "../client/generic-client.js";
import { unpack } from "../client/rpc-backend.js";
import { jsonRegistry } from "../protocol/descriptors.js";
import { enumJsonProblem } from "../protocol/enum-names.js";
import { jsonArgument, UsageError } from "./common.js";
import type { Remote } from "./remote.js";

// The two kinds of remote session the CLI drives: typed by a server's Describe, or plain JSON for an OpenEnv server.

const jsonOut = { useProtoFieldName: true, alwaysEmitImplicit: true } as const;

/** A server with Describe (openenv-connect): typed messages, printed with proto field names. */
export class TypedRemote implements Remote {
  readonly keepsSessions = true;
  private readonly registry: Registry;

  constructor(
    private readonly client: EnvClient,
    private readonly url: string,
    private readonly headers: Record<string, string>,
    private readonly timeoutMs: number | undefined,
  ) {
    const s = client.schemas;
    this.registry = jsonRegistry([s.action, s.observation, s.state, s.partial]);
  }

  get transport(): string {
    return this.client.transport;
  }

  get sessionId(): string | undefined {
    return this.client.sessionId;
  }

  parseAction(text: string, where: string): Message {
    const schema = this.client.schemas.action;
    const json = jsonArgument(where, text);
    if (json === null || typeof json !== "object" || Array.isArray(json)) {
      throw new UsageError(`${where} must be a JSON object of ${schema.typeName} fields, got ${text}`);
    }
    const enumProblem = enumJsonProblem(schema, json);
    if (enumProblem !== undefined) throw new UsageError(`${where} is not a valid ${schema.typeName}: ${enumProblem}`);
    try {
      return fromJson(schema, json as JsonValue, { registry: this.registry });
    } catch (err) {
      throw new UsageError(`${where} is not a valid ${schema.typeName}: ${(err as Error).message}`);
    }
  }

  async reset(params: { seed?: number; episodeId?: string; options?: JsonObject }): Promise<JsonObject> {
    return this.result(await this.client.reset({ ...params, timeoutMs: this.timeoutMs }));
  }

  async step(action: unknown): Promise<JsonObject> {
    return this.result(await this.client.step(action as Message, { timeoutMs: this.timeoutMs }));
  }

  async state(): Promise<JsonObject> {
    const session = this.client.sessionId;
    if (this.isRpc() && session !== undefined) {
      const res = await this.client.client().state({ sessionId: session }, { headers: this.headers, timeoutMs: this.timeoutMs });
      return {
        session_id: res.sessionId,
        episode_id: res.episodeId,
        step_count: res.stepCount,
        state: this.messageJson(
          this.client.schemas.state,
          res.state === undefined ? undefined : unpack(this.client.schemas.state, res.state),
        ),
      };
    }
    const state = this.messageJson(this.client.schemas.state, await this.client.state());
    const fields = typeof state === "object" && state !== null && !Array.isArray(state) ? state : {};
    return { session_id: session ?? null, episode_id: fields.episode_id ?? null, step_count: fields.step_count ?? null, state };
  }

  async end(): Promise<boolean> {
    const session = this.client.sessionId;
    if (this.transport === "websocket") {
      // A /ws session is its socket.
      await this.client.close();
      return session !== undefined;
    }
    if (session === undefined) return false;
    if (this.isRpc()) {
      const res = await this.client.client().closeSession({ sessionId: session }, { headers: this.headers, timeoutMs: this.timeoutMs });
      return res.closed;
    }
    // OpenEnv's own JSON-RPC method, which the stateful HTTP mode's sessions answer to.
    const res = await fetch(`${this.url}/mcp`, {
      method: "POST",
      headers: { ...this.headers, "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "openenv/session/close", params: { session_id: session }, id: 1 }),
      signal: AbortSignal.timeout(this.timeoutMs ?? 30_000),
    });
    const body = (await res.json()) as { result?: { closed?: boolean }; error?: { message?: string } };
    if (body.result?.closed === true) return true;
    if (body.error?.message?.startsWith("Unknown session_id") === true) return false;
    throw new ConnectError(`closing session '${session}': ${body.error?.message ?? `HTTP ${res.status}`}`, Code.Unknown);
  }

  release(): Promise<void> {
    return this.client.close();
  }

  private isRpc(): boolean {
    return this.transport !== "websocket" && this.transport !== "http";
  }

  private messageJson(schema: DescMessage, message: Message | undefined): JsonValue {
    return message === undefined ? null : toJson(schema, message, { ...jsonOut, registry: this.registry });
  }

  private result(r: EnvStepResult): JsonObject {
    return {
      session_id: this.client.sessionId ?? null,
      observation: this.messageJson(this.client.schemas.observation, r.observation),
      reward: r.reward ?? null,
      done: r.done,
      terminated: r.terminated,
      truncated: r.truncated,
      metadata: r.metadata,
      reward_components: r.rewardComponents,
      step_count: r.stepCount,
      episode_id: r.episodeId,
    };
  }
}

/** A server without Describe (OpenEnv's Python servers): plain JSON in and out, no session between commands. */
export class GenericRemote implements Remote {
  readonly sessionId = undefined;
  readonly keepsSessions = false;

  constructor(private readonly client: GenericEnvClient) {}

  get transport(): string {
    return this.client.transport;
  }

  parseAction(text: string, where: string): JsonObject {
    const json = jsonArgument(where, text);
    if (json === null || typeof json !== "object" || Array.isArray(json))
      throw new UsageError(`${where} must be a JSON object, got ${text}`);
    return json as JsonObject;
  }

  async reset(params: { seed?: number; episodeId?: string; options?: JsonObject }): Promise<JsonObject> {
    const kwargs: JsonObject = { ...(params.options ?? {}) };
    if (params.seed !== undefined) kwargs.seed = params.seed;
    if (params.episodeId !== undefined) kwargs.episode_id = params.episodeId;
    return this.result(await this.client.reset(kwargs));
  }

  async step(action: unknown): Promise<JsonObject> {
    return this.result(await this.client.step(action as JsonObject));
  }

  async state(): Promise<JsonObject> {
    const state = await this.client.state();
    return { session_id: null, episode_id: state.episode_id ?? null, step_count: state.step_count ?? null, state };
  }

  async end(): Promise<boolean> {
    await this.client.close();
    return true;
  }

  release(): Promise<void> {
    return this.client.close();
  }

  private result(r: GenericStepResult): JsonObject {
    const { observation, reward, done, metadata, raw } = r;
    return { ...raw, session_id: null, observation, reward, done, metadata };
  }
}
