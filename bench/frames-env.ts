import { type FrameAction, FrameActionSchema, FrameObservationSchema, FrameStateSchema } from "../gen/openenv/bench/v1/frames_pb.js";
import { Environment, type EnvironmentSpec, type StepOutcome } from "../src/server/environment.js";

type Obs = typeof FrameObservationSchema;

export const framesSpec: EnvironmentSpec<typeof FrameActionSchema, Obs, typeof FrameStateSchema> = {
  name: "frames",
  description: "Benchmark environment: returns a frame of the requested size.",
  action: FrameActionSchema,
  observation: FrameObservationSchema,
  state: FrameStateSchema,
};

const cache = new Map<number, Uint8Array>();
function frameOf(size: number): Uint8Array {
  let f = cache.get(size);
  if (f === undefined) {
    f = new Uint8Array(size);
    for (let i = 0; i < size; i++) f[i] = (i * 31 + 7) & 0xff;
    cache.set(size, f);
  }
  return f;
}

/** Returns a frame of the requested size: bytes, or a list of ints (OpenEnv's JSON style). */
export class FramesEnvironment extends Environment<typeof FrameActionSchema, Obs, typeof FrameStateSchema> {
  static readonly spec = framesSpec;
  reset(): StepOutcome<Obs> {
    return { observation: {} };
  }
  step(action: FrameAction): StepOutcome<Obs> {
    const frame = frameOf(action.size);
    return { observation: action.asInts ? { pixels: Array.from(frame) } : { frame }, reward: 0 };
  }
  get state() {
    return { episodeId: this.episodeId, stepCount: this.stepCount };
  }
}
