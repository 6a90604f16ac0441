import { serveGateway } from "../src/gateway/index.js";
import type { EnvironmentSource } from "../src/server/environment.js";
import { toFactory } from "../src/server/environment.js";
import { type EnvironmentServer, type ServeOptions, serve } from "../src/server/serve.js";

/**
 * What the Step-stream tests run against: our server, or `openenv gateway` in front of the same
 * environment served over OpenEnv's protocol only (HTTP/1.1 JSON + `/ws`, HTTP/2 off), so the
 * gateway's Step stream, resume, records and errors are held to the same tests.
 */
export interface Target {
  readonly name: "server" | "gateway";
  serve(source: EnvironmentSource, options?: ServeOptions): Promise<EnvironmentServer>;
}

export const serverTarget: Target = { name: "server", serve };

export const gatewayTarget: Target = {
  name: "gateway",
  async serve(source, options = {}) {
    const upstream = await serve(source, { ...options, port: 0, http2: false, openenv: true });
    // The upstream's JSON Schemas map back to the environment's own package and message names,
    // so clients generated for the environment (echoSpec, scriptedSpec...) work through the gateway.
    const action = toFactory(source).spec.action.typeName;
    try {
      const gateway = await serveGateway(upstream.url, {
        ...options,
        package: action.slice(0, action.lastIndexOf(".")),
        healthIntervalMs: 0,
      });
      const close = async (): Promise<void> => {
        await gateway.close();
        await upstream.close();
      };
      return { ...gateway, close, [Symbol.asyncDispose]: close };
    } catch (err) {
      await upstream.close();
      throw err;
    }
  },
};

export const targets: readonly Target[] = [serverTarget, gatewayTarget];
