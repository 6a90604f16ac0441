import type { DescMessage, Registry } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import type { SessionPlacement } from "../core/placement.js";
import { SessionManager, type SessionManagerOptions } from "../core/session-manager.js";
import type { OpenStepStream } from "../core/step-input.js";
import { StepStream } from "../core/step-stream.js";
import { jsonRegistry } from "../protocol/descriptors.js";
import { ForwardingStepStream, forwardingService } from "./cluster/forwarding.js";
import type { EnvironmentSource, EnvironmentSpec } from "./environment.js";
import { environmentService } from "./environment-service.js";
import { HealthStatus, healthService } from "./health.js";
import { DescriptorIndex, reflectionV1, reflectionV1Alpha } from "./reflection.js";
import type { ServerMode } from "./tools/define.js";
import { inMode, specMessages } from "./tools/tool-environment.js";

/** Options of {@link createEnvironmentRouter}; every field has a default. */
export interface EnvironmentRouterOptions extends SessionManagerOptions {
  /** Largest message accepted on any transport, in bytes. Default 100 MiB (OpenEnv's WebSocket limit). */
  readonly maxMessageBytes?: number;
  /** Protocols reported by Describe. */
  readonly protocols?: readonly string[];
  /** Set by {@link serveCluster} in each worker process: session ids, routing and the shared limit. */
  readonly placement?: SessionPlacement;
  /** The server's mode: a tool environment offers the tools declared for it (see `inMode`). Default simulation. */
  readonly mode?: ServerMode;
}

/** An environment's services, ready to mount on a server or an in-process transport. */
export interface EnvironmentRouter {
  readonly spec: EnvironmentSpec;
  readonly sessions: SessionManager;
  readonly health: HealthStatus;
  /** Registry for JSON (`Any`) of the environment's messages. */
  readonly registry: Registry;
  readonly maxMessageBytes: number;
  /** Where sessions live when the server runs as several processes ({@link serveCluster}); undefined otherwise. */
  readonly placement: SessionPlacement | undefined;
  /** Opens a Step stream (any transport's): dispatched to this process's sessions, or relayed to the owner's process. */
  readonly openStepStream: OpenStepStream;
  /** Registers EnvironmentService, grpc.health.v1.Health and reflection (v1, v1alpha). */
  routes(router: ConnectRouter): void;
  /** Stops taking sessions, reports NOT_SERVING, closes every session, then the factory (its `close`, if any). */
  close(): Promise<void>;
}

export const defaultMaxMessageBytes = 100 * 1024 * 1024;

/** Builds the services of one environment type over a fresh session manager. */
export function createEnvironmentRouter(source: EnvironmentSource, options: EnvironmentRouterOptions = {}): EnvironmentRouter {
  const mode = options.mode ?? "simulation";
  const factory = inMode(source as EnvironmentSource<DescMessage, DescMessage, DescMessage, DescMessage>, mode);
  const spec = factory.spec;
  const sessions = new SessionManager(factory, options, options.placement);
  const health = new HealthStatus([EnvironmentService.typeName]);
  const maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes;
  const index = new DescriptorIndex([EnvironmentService, Health, ServerReflectionV1, ServerReflectionV1Alpha], specMessages(spec));
  const placement = options.placement;
  const serviceOptions = { maxMessageBytes, protocols: options.protocols ?? ["connect", "grpc", "grpc-web"], mode };
  const openStepStream: OpenStepStream = (out, streamOptions) => {
    const local = new StepStream(sessions, spec, out, streamOptions);
    return placement === undefined ? local : new ForwardingStepStream(local, placement, out, streamOptions.requestHeaders);
  };
  const service = environmentService(spec, sessions, serviceOptions, openStepStream);
  return {
    spec,
    sessions,
    health,
    registry: jsonRegistry(specMessages(spec)),
    maxMessageBytes,
    placement,
    openStepStream,
    routes(router) {
      // Several processes: calls for another process's sessions go to it.
      router.service(EnvironmentService, placement === undefined ? service : forwardingService(service, placement));
      router.service(Health, healthService(health));
      router.service(ServerReflectionV1, reflectionV1(index));
      router.service(ServerReflectionV1Alpha, reflectionV1Alpha(index));
    },
    async close() {
      health.setAll(HealthCheckResponse_ServingStatus.NOT_SERVING);
      await sessions.closeAll({ code: Code.Unavailable, message: "server shutting down" });
      await factory.close?.();
    },
  };
}
