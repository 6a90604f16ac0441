import type { DescMessage, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { jsonRegistry } from "../protocol/descriptors.js";
import { findSessionLost, type SessionLostInfo } from "../protocol/errors.js";
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
  /**
   * Called when a session was lost with the replica that held it (NOT_FOUND with
   * `SessionLost`), before its slot is given a new session. Lost sessions are
   * replaced unless `replaceLost` is false (then the error rejects the call).
   */
  readonly onSessionLost?: ((lost: LostSession) => void) | undefined;
  /** Replace sessions lost with their replica by new ones (wherever the balancer opens them). Default true. */
  readonly replaceLost?: boolean;
}

/** A session a {@link VectorEnv} lost with its replica. */
export interface LostSession extends SessionLostInfo {
  /** The slot it filled. */
  readonly index: number;
  /** The error its call got. */
  readonly error: ConnectError;
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
  /** Sessions lost with their replica so far (each replaced by a new one unless `replaceLost` is false). */
  lostSessions = 0;

  private constructor(
    readonly envs: readonly EnvClient<A, O, S, P>[],
    private readonly connections: readonly OwnedTransport[],
    private readonly autoReset: boolean,
    private readonly options: Pick<VectorEnvOptions<A, O, S, P>, "onSessionLost" | "replaceLost">,
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
    return new VectorEnv(envs, connections, options.autoReset !== false, options);
  }

  /** Number of sessions. */
  get size(): number {
    return this.envs.length;
  }

  /** Resets every session; `params` may differ per session (e.g. seeds `seed + i`). */
  async resetAll(params?: ResetParams | ((index: number) => ResetParams)): Promise<EnvStepResult<O>[]> {
    const results = await Promise.all(
      this.envs.map((env, i) => {
        const p = typeof params === "function" ? params(i) : params;
        return this.replacing(
          i,
          () => env.reset(p),
          () => env.reset(p),
        );
      }),
    );
    this.done = results.map((r) => r.done);
    return results;
  }

  /**
   * Steps every session with its action; all requests are in flight at once.
   *
   * A session lost with its replica (the replica died) is replaced: its slot gets
   * a new session, opened wherever the balancer sends it, and its result is the
   * new episode's first observation marked `truncated` (and `done`), with
   * `metadata.session_lost` naming the lost session and its replica. The lost
   * episode's last observation died with the replica. The next `stepAll` steps
   * the new episode (it is not reset again).
   */
  async stepAll(actions: ReadonlyArray<MessageShape<A> | MessageInitShape<A>>): Promise<EnvStepResult<O>[]> {
    if (actions.length !== this.envs.length) {
      throw new RangeError(`stepAll needs ${this.envs.length} actions, got ${actions.length}`);
    }
    const replaced = new Set<number>();
    const results = await Promise.all(
      this.envs.map((env, i) =>
        this.replacing(
          i,
          () => (this.autoReset && this.done[i] ? env.reset() : env.step(actions[i] as MessageShape<A>)),
          async (lost) => {
            replaced.add(i);
            const first = await env.reset();
            const metadata = { ...first.metadata, session_lost: { session_id: lost.sessionId, holder: lost.holder } };
            return { ...first, done: true, truncated: true, terminated: false, metadata };
          },
        ),
      ),
    );
    this.done = results.map((r, i) => r.done && !replaced.has(i));
    return results;
  }

  /** Runs a slot's call; when its session was lost with its replica, reports it and runs `replace` once. */
  private async replacing(
    index: number,
    call: () => Promise<EnvStepResult<O>>,
    replace: (lost: SessionLostInfo) => Promise<EnvStepResult<O>>,
  ): Promise<EnvStepResult<O>> {
    try {
      return await call();
    } catch (err) {
      const lost = err instanceof ConnectError ? findSessionLost(err) : undefined;
      if (lost === undefined || this.options.replaceLost === false) throw err;
      this.lostSessions++;
      this.options.onSessionLost?.({ ...lost, index, error: err as ConnectError });
      return replace(lost);
    }
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
