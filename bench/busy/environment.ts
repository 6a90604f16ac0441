import type { EchoAction, EchoObservationSchema } from "../../gen/openenv/envs/echo/v1/echo_pb.js";
import { EchoEnvironment, echoSpec } from "../../src/envs/echo/environment.js";
import type { StepOutcome } from "../../src/server/environment.js";

/** Work per step: a fixed number of iterations, not a time, so contention slows it down honestly. */
const ITERATIONS = 200_000;

/**
 * The echo environment plus a fixed amount of CPU work per step (about 0.65 ms on
 * this machine type): a server-bound workload, where the server's cores, not the
 * protocol or the clients, limit steps/s.
 */
export class BusyEnvironment extends EchoEnvironment {
  static override readonly spec = { ...echoSpec, name: "busy", description: "Echo plus fixed CPU work per step (benchmarks)." };

  override step(action: EchoAction): StepOutcome<typeof EchoObservationSchema> {
    let x = 2463534242;
    for (let i = 0; i < ITERATIONS; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
    }
    const out = super.step(action);
    return { ...out, metadata: { ...(out.metadata as object), work: x >>> 0 } };
  }
}
