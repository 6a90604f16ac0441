import type { DescMessage, Registry } from "@bufbuild/protobuf";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ServerReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import { jsonRegistry } from "../protocol/descriptors.js";
import type { EnvironmentSource, EnvironmentSpec } from "./environment.js";
import { toFactory } from "./environment.js";
import { environmentService } from "./environment-service.js";
import { HealthStatus, healthService } from "./health.js";
import type { SessionPlacement } from "./placement.js";
import { DescriptorIndex, reflectionV1, reflectionV1Alpha } from "./reflection.js";
import { type SessionLimits, SessionManager } from "./session-manager.js";

/** Options of {@link createEnvironmentRouter}; every field has a default. */
export interface EnvironmentRouterOptions extends Partial<SessionLimits> {
  /** Replies remembered per session so a retried request id is not applied twice. Default 256. */
  readonly recordSize?: number;
  /** Largest message accepted on any transport, in bytes. Default 100 MiB (OpenEnv's WebSocket limit). */
  readonly maxMessageBytes?: number;
  /** Protocols reported by Describe. */
  readonly protocols?: readonly string[];
  /** Set by {@link serveCluster} in each worker process: session ids, routing and the shared limit. */
  readonly placement?: SessionPlacement;
}

/** An environment's services, ready to mount on a server or an in-process transport. */
export interface EnvironmentRouter {
  readonly spec: EnvironmentSpec;
  readonly sessions: SessionManager;
  readonly health: HealthStatus;
  /** Registry for JSON (`Any`) of the environment's messages. */
  readonly registry: Registry;
  readonly maxMessageBytes: number;
  /** Replies remembered per session for request-id deduplication. */
  readonly recordSize: number;
  /** Registers EnvironmentService, grpc.health.v1.Health and reflection (v1, v1alpha). */
  routes(router: ConnectRouter): void;
  /** Stops taking sessions, reports NOT_SERVING, closes every session, then the factory (its `close`, if any). */
  close(): Promise<void>;
}

export const defaultMaxMessageBytes = 100 * 1024 * 1024;

/** Builds the services of one environment type over a fresh session manager. */
export function createEnvironmentRouter(source: EnvironmentSource, options: EnvironmentRouterOptions = {}): EnvironmentRouter {
  const factory = toFactory(source as EnvironmentSource<DescMessage, DescMessage, DescMessage, DescMessage>);
  const spec = factory.spec;
  const sessions = new SessionManager(factory, options, options.placement);
  const health = new HealthStatus([EnvironmentService.typeName]);
  const maxMessageBytes = options.maxMessageBytes ?? defaultMaxMessageBytes;
  const index = new DescriptorIndex(
    [EnvironmentService, Health, ServerReflectionV1, ServerReflectionV1Alpha],
    [spec.action, spec.observation, spec.state, ...(spec.partial ? [spec.partial] : [])],
  );
  const recordSize = options.recordSize ?? 256;
  const serviceOptions = {
    recordSize,
    maxMessageBytes,
    protocols: options.protocols ?? ["connect", "grpc", "grpc-web"],
  };
  return {
    spec,
    sessions,
    health,
    registry: jsonRegistry([spec.action, spec.observation, spec.state, spec.partial]),
    maxMessageBytes,
    recordSize,
    routes(router) {
      router.service(EnvironmentService, environmentService(spec, sessions, serviceOptions));
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
