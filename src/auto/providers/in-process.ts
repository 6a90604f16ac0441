import type { EnvironmentSource } from "../../server/environment.js";
import { createEnvironmentRouter } from "../../server/router.js";
import { serve } from "../../server/serve.js";
import type { ProviderStartOptions, RunningEnvironment } from "./types.js";

/** Serves an environment inside this process on an ephemeral loopback port (or `options.port`). */
export async function startInProcess(source: EnvironmentSource, options: ProviderStartOptions = {}): Promise<RunningEnvironment> {
  const server = await serve(source, {
    port: options.port ?? 0,
    host: options.host ?? "127.0.0.1",
    maxSessions: options.maxSessions,
    idleTimeoutMs: options.idleTimeoutMs,
  });
  return {
    provider: "in-process",
    baseUrl: server.url,
    router: server.router,
    stop: () => server.close(),
  };
}

/** Builds the environment's services for the in-process transport: no socket, no server. */
export function startInMemory(source: EnvironmentSource, options: ProviderStartOptions = {}): RunningEnvironment {
  const router = createEnvironmentRouter(source, { maxSessions: options.maxSessions, idleTimeoutMs: options.idleTimeoutMs });
  let stopping: Promise<void> | undefined;
  return {
    provider: "memory",
    baseUrl: undefined,
    router,
    stop() {
      stopping ??= router.close();
      return stopping;
    },
  };
}
