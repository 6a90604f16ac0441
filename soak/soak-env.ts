import { type EchoAction, EchoActionSchema, EchoObservationSchema, EchoStateSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { Environment, type EnvironmentSpec, type StepContext, type StepOutcome } from "../src/server/environment.js";

type Obs = typeof EchoObservationSchema;

/** The soak environment speaks echo's messages, so any echo client can drive it. */
export const soakSpec: EnvironmentSpec<typeof EchoActionSchema, Obs, typeof EchoStateSchema> = {
  name: "soak",
  description: "Echo that records the request id of every action it applies, to prove exactly-once delivery.",
  action: EchoActionSchema,
  observation: EchoObservationSchema,
  state: EchoStateSchema,
};

/**
 * What one session's environment applied: every sequence number up to `contiguous`, the
 * ones above it in `above` (a step may overtake a lost one), and repeats. Constant size
 * when nothing is lost, so the audit itself does not grow the server's heap.
 */
export interface AppliedRecord {
  contiguous: number;
  readonly above: Set<number>;
  duplicates: number;
  maxSeq: number;
  closed: boolean;
}

/** Steps applied, each counted once. */
export function appliedCount(r: AppliedRecord): number {
  return r.contiguous + r.above.size;
}

/** Every session's record, kept after the session closes so the driver can audit it at the end. */
export const applied = new Map<string, AppliedRecord>();

/**
 * Echoes each action and records the sequence number its message carries (`<key>:<seq>`;
 * a client retries a request with the same message and request id): a number applied
 * twice on one session is a duplicate, a missing one a lost step. The message, not the
 * request id, carries it because every transport delivers the message (the soak and
 * scale clients, VectorEnv, /ws and HTTP alike).
 * Every 50th step takes a few milliseconds, so connection drops also hit running steps.
 */
export class SoakEnvironment extends Environment<typeof EchoActionSchema, Obs, typeof EchoStateSchema> {
  static readonly spec = soakSpec;
  private record: AppliedRecord | undefined;

  reset(): StepOutcome<Obs> {
    return { observation: { echoedMessage: "ready" } };
  }

  async step(action: EchoAction, ctx: StepContext): Promise<StepOutcome<Obs>> {
    const seq = Number(action.message.slice(action.message.lastIndexOf(":") + 1));
    if (seq % 50 === 0) await new Promise((r) => setTimeout(r, 2 + (seq % 7)));
    let record = this.record;
    if (record === undefined) {
      record = applied.get(ctx.sessionId) ?? { contiguous: 0, above: new Set(), duplicates: 0, maxSeq: 0, closed: false };
      applied.set(ctx.sessionId, record);
      this.record = record;
    }
    if (Number.isInteger(seq) && seq > 0) {
      if (seq <= record.contiguous || record.above.has(seq)) {
        record.duplicates++;
      } else {
        record.above.add(seq);
        while (record.above.delete(record.contiguous + 1)) record.contiguous++;
      }
      if (seq > record.maxSeq) record.maxSeq = seq;
    }
    return { observation: { echoedMessage: action.message, messageLength: action.message.length } };
  }

  get state() {
    return { episodeId: this.episodeId, stepCount: this.stepCount };
  }

  override close(): void {
    if (this.record !== undefined) this.record.closed = true;
  }
}
