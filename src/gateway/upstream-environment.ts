import type { JsonObject, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { HeaderValues } from "../client/backend.js";
import { payloadFields, resetKwargs } from "../openenv/client/backends.js";
import { OpenEnvSocket, webSocketUrl } from "../openenv/client/connection.js";
import {
  Environment,
  type EnvironmentFactory,
  type EnvironmentSpec,
  type ResetOptions,
  type StepContext,
  type StepOutcome,
} from "../server/environment.js";
import { defaultPackage, type GeneratedProto, loadTypes, protoFromSchemas, type SchemaTypes } from "./generate.js";
import { SchemaMismatchError } from "./json-codec.js";
import { fetchUpstreamSchemas, type UpstreamDescription } from "./upstream-schemas.js";

/** Options of {@link upstreamEnvironment}. */
export interface UpstreamOptions {
  /** Proto package of the generated messages; default `openenv.upstream.<name>.v1` (as `openenv proto`). */
  readonly package?: string;
  /** Headers sent to the upstream (e.g. its credentials), on `/schema`, `/metadata` and every `/ws` handshake. */
  readonly upstreamHeaders?: HeaderValues;
  /** Time to open a `/ws` session upstream. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Largest upstream frame accepted. Default 100 MiB, as OpenEnv's client. */
  readonly maxMessageBytes?: number;
}

/** An environment factory whose instances each drive one session of an OpenEnv server over its `/ws`. */
export interface UpstreamEnvironment extends EnvironmentFactory {
  /** The upstream's base URL. */
  readonly url: string;
  /** What the upstream said about itself. */
  readonly description: UpstreamDescription;
  /** The proto package served, as `openenv proto` writes it. */
  readonly generated: GeneratedProto;
  /** The generated messages, loaded at runtime, with their JSON conversions. */
  readonly types: SchemaTypes;
}

/**
 * Builds an environment factory in front of an OpenEnv HTTP/WebSocket server:
 * reads its `/schema` and `/metadata`, generates its proto package (the same
 * mapping as `openenv proto`) and loads it at runtime. `serve()` then gives
 * every client the full contract (Step stream with request ids, resume,
 * Describe, health, reflection) while each session holds one upstream `/ws`.
 */
export async function upstreamEnvironment(url: string, options: UpstreamOptions = {}): Promise<UpstreamEnvironment> {
  const description = await fetchUpstreamSchemas(url, { headers: options.upstreamHeaders, timeoutMs: options.connectTimeoutMs });
  const pkg = options.package ?? defaultPackage(description.name);
  const generated = protoFromSchemas(description.schemas, { package: pkg, source: `${url.replace(/\/+$/, "")}/schema` });
  const types = loadTypes(generated);
  const meta = description.metadata;
  const text = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
  const spec: EnvironmentSpec = {
    name: description.name,
    description: text(meta.description),
    version: text(meta.version),
    readme: text(meta.readme_content),
    author: text(meta.author),
    documentationUrl: text(meta.documentation_url),
    action: types.action.schema,
    observation: types.observation.schema,
    state: types.state.schema,
    // The upstream decides what a step after the end of an episode does.
    stepAfterDone: "allow",
  };
  const wsUrl = webSocketUrl(url, "/ws?extensions=1");
  return {
    url,
    description,
    generated,
    types,
    spec,
    create: () => new UpstreamSession(wsUrl, types, options),
  };
}

/**
 * One downstream session = one upstream `/ws` session, opened at the first
 * reset. Requests go out one at a time (the session queue orders them), so
 * replies pair with requests by order, as OpenEnv's protocol requires.
 *
 * Losing the upstream connection loses the episode: the step in flight fails
 * with ABORTED (whether the upstream applied it is unknown), later steps with
 * FAILED_PRECONDITION, and the next reset opens a new upstream session. A step
 * cut short by its deadline does the same, since the upstream's late reply
 * would otherwise answer the next request.
 */
class UpstreamSession extends Environment {
  private socket: OpenEnvSocket | undefined;
  /** Why the current episode cannot continue, once it cannot. */
  private lost: ConnectError | undefined;

  constructor(
    private readonly wsUrl: string,
    private readonly types: SchemaTypes,
    private readonly options: UpstreamOptions,
  ) {
    super();
  }

  async reset(options: ResetOptions): Promise<StepOutcome> {
    if (this.socket === undefined || this.socket.broken !== undefined || this.lost !== undefined) {
      const old = this.socket;
      this.socket = undefined;
      void old?.close();
      this.socket = await OpenEnvSocket.connect(this.wsUrl, {
        headers: this.options.upstreamHeaders,
        connectTimeoutMs: this.options.connectTimeoutMs,
        maxMessageBytes: this.options.maxMessageBytes,
      });
      this.lost = undefined;
    }
    const data = resetKwargs({ seed: options.seed, episodeId: options.episodeId, options: options.options });
    return this.outcome(await this.call({ type: "reset", data }, options.signal, "reset"));
  }

  async step(action: Message, ctx: StepContext): Promise<StepOutcome> {
    const data = this.types.action.encode(action, "request");
    return this.outcome(await this.call({ type: "step", data }, ctx.signal, "step"));
  }

  get state(): Promise<Message> {
    return this.call({ type: "state" }, undefined, "state").then((reply) => {
      if (reply.type !== "state")
        throw new ConnectError(`the upstream answered a state request with a '${String(reply.type)}' frame`, Code.Internal);
      return this.decode(this.types.state, reply.data, "state");
    });
  }

  override async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    await socket?.close();
  }

  private async call(frame: JsonObject, signal: AbortSignal | undefined, what: string): Promise<JsonObject> {
    if (this.lost !== undefined) throw this.lost;
    const socket = this.socket;
    if (socket === undefined) throw new ConnectError(`no upstream session for this ${what}: reset first`, Code.FailedPrecondition);
    if (socket.broken !== undefined) {
      // OpenEnv refuses a session over capacity with an error frame as soon as the socket opens.
      if (socket.broken.code === Code.ResourceExhausted) {
        this.socket = undefined;
        throw socket.broken;
      }
      // Gone between requests (upstream restarted, idle timeout): this request was never sent.
      throw this.lose(socket, `the upstream connection was lost (${socket.broken.rawMessage})`);
    }
    let stop: (() => void) | undefined;
    const cut =
      signal === undefined
        ? undefined
        : new Promise<never>((_, reject) => {
            const onAbort = (): void => reject(ConnectError.from(signal.reason, Code.Internal));
            if (signal.aborted) onAbort();
            signal.addEventListener("abort", onAbort, { once: true });
            stop = () => signal.removeEventListener("abort", onAbort);
          });
    try {
      return await (cut === undefined ? socket.request(frame) : Promise.race([socket.request(frame), cut]));
    } catch (err) {
      const e = ConnectError.from(err, Code.Internal);
      if (signal?.aborted === true) {
        // Its reply may still come and would answer the next request: this upstream session is done.
        this.lose(socket, `a ${what} of this episode was cut short (${e.rawMessage}) and the upstream may still apply it`);
        throw e;
      }
      if (socket.broken !== undefined) {
        if (e.code === Code.ResourceExhausted) {
          // OpenEnv's CAPACITY_REACHED (details kept): no session was opened upstream.
          this.socket = undefined;
          throw e;
        }
        const lost = this.lose(socket, `the upstream connection was lost (${e.rawMessage})`);
        if (what === "state") throw lost;
        throw new ConnectError(
          `the upstream connection was lost during this ${what} (${e.rawMessage}); whether the upstream applied it is unknown, so the episode cannot continue: reset to start a new one`,
          Code.Aborted,
        );
      }
      throw e; // an error frame (e.g. VALIDATION_ERROR): the upstream session goes on
    } finally {
      stop?.();
    }
  }

  /** Marks the episode lost (every later request fails with FAILED_PRECONDITION until a reset) and lets the socket go. */
  private lose(socket: OpenEnvSocket, why: string): ConnectError {
    const lost = new ConnectError(`this episode's upstream session is gone: ${why}; reset to start a new episode`, Code.FailedPrecondition);
    this.lost = lost;
    if (this.socket === socket) this.socket = undefined;
    void socket.close();
    return lost;
  }

  private outcome(reply: JsonObject): StepOutcome {
    if (reply.type !== "observation") {
      throw new ConnectError(`the upstream answered with a '${String(reply.type)}' frame, expected 'observation'`, Code.Internal);
    }
    const data = reply.data;
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new ConnectError("the upstream sent a step result that is not an object", Code.Internal);
    }
    const fields = payloadFields(data);
    return {
      observation: this.decode(this.types.observation, data.observation ?? {}, "observation"),
      reward: fields.reward,
      terminated: fields.terminated,
      truncated: fields.truncated,
      metadata: fields.metadata,
      rewardComponents: fields.rewardComponents,
    };
  }

  private decode(codec: SchemaTypes["observation"], json: unknown, what: string): Message {
    try {
      return codec.decode(json);
    } catch (err) {
      if (err instanceof SchemaMismatchError) {
        throw new ConnectError(`the upstream sent a ${what} that does not match its /schema: ${err.message}`, Code.Internal);
      }
      throw err;
    }
  }
}
