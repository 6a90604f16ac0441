import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { EnvClient } from "../src/client/env-client.js";
import { MazeEnvironment } from "../src/envs/maze/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

let server: EnvironmentServer;
beforeAll(async () => {
  server = await serve(MazeEnvironment, { port: 0 });
});
afterAll(async () => {
  await server.close();
});

function frames(url: string, sent: object[]): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const got: Record<string, unknown>[] = [];
    ws.on("open", () => ws.send(JSON.stringify(sent[0])));
    ws.on("message", (data) => {
      got.push(JSON.parse(String(data)) as Record<string, unknown>);
      if (got.length === sent.length) {
        ws.close();
        resolve(got);
      } else ws.send(JSON.stringify(sent[got.length]));
    });
    ws.on("error", reject);
  });
}

describe("reward components reach every client", () => {
  it("on the Step stream as reward_components", async () => {
    await using env = await EnvClient.connect({ baseUrl: server.url, transport: "grpc" });
    await env.reset({ seed: 1 });
    const r = await env.step({ direction: 1 } as never);
    expect(Object.keys(r.rewardComponents).sort()).toEqual(["goal", "step_cost", "wall"]);
  });

  it("over OpenEnv's /ws and HTTP as metadata.reward_components, for clients that know nothing of our extensions", async () => {
    const [, step] = await frames(`${server.url.replace("http", "ws")}/ws`, [
      { type: "reset", data: { seed: 1 } },
      { type: "step", data: { direction: "DIRECTION_UP" } },
    ]);
    const data = step?.data as { metadata: { reward_components: Record<string, number> }; reward: number };
    expect(Object.keys(data.metadata.reward_components).sort()).toEqual(["goal", "step_cost", "wall"]);
    const total =
      -0.01 * (data.metadata.reward_components.step_cost ?? 0) -
      0.05 * (data.metadata.reward_components.wall ?? 0) +
      (data.metadata.reward_components.goal ?? 0);
    expect(data.reward).toBeCloseTo(total);
    const res = await fetch(`${server.url}/step`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: { direction: "DIRECTION_UP" } }),
    });
    const body = (await res.json()) as { metadata: { reward_components?: Record<string, number> } };
    expect(body.metadata.reward_components).toBeDefined();
  });
});
