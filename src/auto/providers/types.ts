import type { EnvironmentRouter } from "../../server/router.js";

/**
 * How a local environment gets a server:
 * - `process`: a child `node` process serves it on a free loopback port (the default);
 * - `in-process`: a server inside this process, on an ephemeral loopback port;
 * - `memory`: no server at all; the client calls the services in memory (in-process transport);
 * - `docker`: `docker run` of the environment's image with a port mapping;
 * - `url`: a server that already runs; connect only.
 */
export type ProviderName = "process" | "in-process" | "memory" | "docker" | "url";

/** A server some provider started (or found), until {@link RunningEnvironment.stop}. */
export interface RunningEnvironment {
  readonly provider: ProviderName;
  /** Where clients connect; undefined for `memory`. */
  readonly baseUrl: string | undefined;
  /** The services, for `memory` (and `in-process`). */
  readonly router?: EnvironmentRouter;
  /** Child process id (`process`). */
  readonly pid?: number;
  /** Container id (`docker`). */
  readonly containerId?: string;
  /** Stops what the provider started; connect-only providers do nothing. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options every starting provider understands. */
export interface ProviderStartOptions {
  /** Host port; default: a free one. */
  readonly port?: number;
  /** Interface to bind (process/in-process). Default 127.0.0.1. */
  readonly host?: string;
  /** Most sessions the server runs at once. */
  readonly maxSessions?: number;
  /** Close sessions idle for this long; 0 never. */
  readonly idleTimeoutMs?: number;
  /** How long to wait for the server to become healthy. Default 30 s. */
  readonly waitTimeoutMs?: number;
  /** Extra environment variables of the server process or container. */
  readonly envVars?: Readonly<Record<string, string>>;
  /** Progress reports during long waits. */
  readonly onProgress?: (message: string) => void;
}
