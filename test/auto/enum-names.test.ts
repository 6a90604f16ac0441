import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, type MazeActionSchema } from "../../gen/openenv/envs/maze/v1/maze_pb.js";
import { AutoAction } from "../../src/auto/auto-env.js";
import { EnvClient } from "../../src/client/env-client.js";
import { MazeEnvironment } from "../../src/envs/maze/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";

/** Issue 13 item 9: enum values by name wherever JSON takes them, and errors that list the values. */

let server: EnvironmentServer;
beforeAll(async () => {
  server = await serve(MazeEnvironment, { port: 0 });
});
afterAll(async () => {
  await server?.close();
});

const values = "DIRECTION_UP, DIRECTION_DOWN, DIRECTION_LEFT, DIRECTION_RIGHT";

describe("AutoAction", () => {
  it("takes an enum value by name, as JSON does, or by number", async () => {
    const MazeAction = await AutoAction.fromEnv<typeof MazeActionSchema>("maze");
    expect(MazeAction({ direction: "DIRECTION_RIGHT" }).direction).toBe(Direction.RIGHT);
    expect(new MazeAction({ direction: Direction.LEFT }).direction).toBe(Direction.LEFT);
    expect(MazeAction.fromJson({ direction: "DIRECTION_UP" }).direction).toBe(Direction.UP);
  });

  it("refuses an unknown name with the field and the values", async () => {
    const MazeAction = await AutoAction.fromEnv<typeof MazeActionSchema>("maze");
    expect(() => MazeAction({ direction: "SIDEWAYS" })).toThrow(
      new TypeError(
        `MazeAction: direction: 'SIDEWAYS' is not a value of openenv.envs.maze.v1.Direction; use one of ${values} (or its number)`,
      ),
    );
  });

  it("steps a real server with the named value", async () => {
    const MazeAction = await AutoAction.fromEnv<typeof MazeActionSchema>("maze");
    await using env = await EnvClient.connect({ baseUrl: server.url });
    await env.reset({ seed: 1 });
    const r = await env.step(MazeAction({ direction: "DIRECTION_DOWN" }));
    expect(r.stepCount).toBe(1);
  });
});

describe("EnvClient without generated code (schemas from Describe)", () => {
  it("accepts an enum name in a plain action, and names the values for a wrong one", async () => {
    await using env = await EnvClient.connect({ baseUrl: server.url });
    await env.reset({ seed: 1 });
    const r = await env.step({ direction: "DIRECTION_RIGHT" } as never);
    expect(r.stepCount).toBe(1);
    await expect(env.step({ direction: "SIDEWAYS" } as never)).rejects.toThrow(
      `action: direction: 'SIDEWAYS' is not a value of openenv.envs.maze.v1.Direction; use one of ${values} (or its number)`,
    );
  });
});
