// README quickstart: define an environment, serve it, drive it with a typed client.

import { EnvClient, Environment, serve } from "openenv-connect";
import { type EchoAction, EchoActionSchema, EchoObservationSchema, EchoStateSchema } from "openenv-connect/envs/echo";

class Reverse extends Environment<typeof EchoActionSchema, typeof EchoObservationSchema, typeof EchoStateSchema> {
  static readonly spec = { name: "reverse", action: EchoActionSchema, observation: EchoObservationSchema, state: EchoStateSchema };
  reset() {
    return { observation: { echoedMessage: "ready" } };
  }
  step(action: EchoAction) {
    const reversed = [...action.message].reverse().join("");
    return { observation: { echoedMessage: reversed, messageLength: reversed.length }, reward: 1, terminated: reversed === action.message };
  }
  get state() {
    return { episodeId: this.episodeId, stepCount: this.stepCount };
  }
}

await using server = await serve(Reverse, { port: 0 });
await using env = await EnvClient.connect({ baseUrl: server.url, spec: Reverse.spec });
await env.reset();
const r = await env.step({ message: "stressed" });
console.log(r.observation.echoedMessage, r.reward, r.done); // desserts 1 false
const p = await env.step({ message: "level" });
console.log(p.observation.echoedMessage, p.terminated); // level true
