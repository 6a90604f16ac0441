import type { EnvironmentSource } from "../server/environment.js";

/** Bundled environments by name; each loads its module only when asked for. */
export const bundledEnvironments: Record<string, () => Promise<EnvironmentSource>> = {
  chat: async () => (await import("./chat/environment.js")).ChatEnvironment,
  coding: async () => (await import("./coding/environment.js")).CodingEnvironment,
  connect4: async () => (await import("./connect4/environment.js")).Connect4Environment,
  echo: async () => (await import("./echo/environment.js")).EchoEnvironment,
  maze: async () => (await import("./maze/environment.js")).MazeEnvironment,
  wordle: async () => (await import("./wordle/environment.js")).WordleEnvironment,
};
