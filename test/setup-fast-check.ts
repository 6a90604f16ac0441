// Property tests explore new inputs on every developer run; CI pins the seed (FC_SEED in
// .ci/run) so that a run is reproducible and a red build means a change, not a new draw.
// A failure always prints its seed and path; rerun with FC_SEED=<seed> to replay it.
import fc from "fast-check";

const seed = process.env.FC_SEED;
if (seed !== undefined && seed !== "") fc.configureGlobal({ seed: Number(seed) });
