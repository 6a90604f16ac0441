import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { jsonRegistry } from "../protocol/descriptors.js";
import { EnvClient, type EnvClientOptions, type EnvClientSpec, type EnvStepResult, type ResetParams } from "./env-client.js";
import { createTransport, type OwnedTransport, type RpcTransportKind } from "./transports.js";

/** Options of {@link VectorEnv}. */
export interface VectorEnvOptions<A extends DescMessage, O extends DescMessage, S extends DescMessage, P extends DescMessage>
  extends Omit<EnvClientOptions<A, O, S, P>, "transport" | "connection" | "spec"> {
  readonly baseUrl: string;
  readonly spec: EnvClientSpec<A, O, S, P>;
  /** Number of sessions. */
  readonly count: number;
  /** Protocol of the shared connection(s). Default `"connect"`. */
  readonly transport?: Exclude<RpcTransportKind, "in-process">;
  /**
   * HTTP/2 connections to spread the sessions over (round robin). Default 1. With
   * `openenv serve --workers N`, each connection lands on a worker: N connections let
   * one vector env use every worker, where one connection keeps all sessions on one.
   */
  readonly connections?: number;
  /**
   * Gymnasium's next-step autoreset: after an episode ends, the next `stepAll`
   * resets that session (ignoring its action) and returns the reset result. Default true.
   */
  readonly autoReset?: boolean;
}

/**
 * N sessions of one environment stepped together over one HTTP/2 connection
 * (envpool's send/recv model over the network): `resetAll()`, then `stepAll(actions)`
 * sends every action before awaiting any reply.
 *
 * @example
 * ```ts
 * await using vec = await VectorEnv.connect({ baseUrl, spec: echoSpec, count: 64 });
 * let results = await vec.resetAll({ seed: 1 });
 * results = await vec.stepAll(results.map(() => ({ message: "hi" })));
 * ```
 */
export class VectorEnv<
  A extends DescMessage = DescMessage,
  O extends DescMessage = DescMessage,
  S extends DescMessage = DescMessage,
  P extends DescMessage = DescMessage,
> implements AsyncDisposable
{
  private done: boolean[];

  private constructor(
    readonly envs: readonly EnvClient<A, O, S, P>[],
    private readonly connections: readonly OwnedTransport[],
    private readonly autoReset: boolean,
  ) {
    this.done = envs.map(() => false);
  }

  /** Opens `count` clients sharing `connections` connections (sessions open at the first reset). */
  static async connect<A extends DescMessage, O extends DescMessage, S extends DescMessage, P extends DescMessage>(
    options: VectorEnvOptions<A, O, S, P>,
  ): Promise<VectorEnv<A, O, S, P>> {
    const { spec } = options;
    const n = options.connections ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`connections must be a positive integer, got ${n}`);
    const registry = jsonRegistry([spec.action, spec.observation, spec.state, spec.partial]);
    const connections = Array.from({ length: n }, () =>
      createTransport({ kind: options.transport ?? "connect", baseUrl: options.baseUrl, interceptors: options.interceptors, registry }),
    );
    const envs = Array.from(
      { length: options.count },
      (_, i) =>
        new EnvClient<A, O, S, P>({
          ...options,
          spec,
          connection: connections[i % n] as OwnedTransport,
          verify: i === 0 && options.verify !== false,
        }),
    );
    try {
      await envs[0]?.connect();
    } catch (err) {
      for (const c of connections) c.close();
      throw err;
    }
    return new VectorEnv(envs, connections, options.autoReset !== false);
  }

  /** Number of sessions. */
  get size(): number {
    return this.envs.length;
  }

  /** Resets every session; `params` may differ per session (e.g. seeds `seed + i`). */
  async resetAll(params?: ResetParams | ((index: number) => ResetParams)): Promise<EnvStepResult<O>[]> {
    const results = await Promise.all(this.envs.map((env, i) => env.reset(typeof params === "function" ? params(i) : params)));
    this.done = results.map((r) => r.done);
    return results;
  }

  /** Steps every session with its action; all requests are in flight at once. */
  async stepAll(actions: ReadonlyArray<MessageShape<A> | MessageInitShape<A>>): Promise<EnvStepResult<O>[]> {
    if (actions.length !== this.envs.length) {
      throw new RangeError(`stepAll needs ${this.envs.length} actions, got ${actions.length}`);
    }
    const results = await Promise.all(
      this.envs.map((env, i) => (this.autoReset && this.done[i] ? env.reset() : env.step(actions[i] as MessageShape<A>))),
    );
    this.done = results.map((r) => r.done);
    return results;
  }

  /** Closes every session and the shared connections. */
  async close(): Promise<void> {
    try {
      await Promise.all(this.envs.map((env) => env.close()));
    } finally {
      for (const c of this.connections) c.close();
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
