import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Status,
} from "../../gen/grpc/health/v1/health_pb.js";

/**
 * Serving status per service name ("" is the whole server), behind the
 * standard `grpc.health.v1.Health` service.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, Status>();
  private readonly watchers = new Set<() => void>();

  constructor(services: readonly string[]) {
    this.statuses.set("", Status.SERVING);
    for (const s of services) this.statuses.set(s, Status.SERVING);
  }

  get(service: string): Status | undefined {
    return this.statuses.get(service);
  }

  /** Marks every service NOT_SERVING, e.g. while shutting down. */
  setAll(status: Status): void {
    for (const key of this.statuses.keys()) this.statuses.set(key, status);
    for (const w of this.watchers) w();
  }

  entries(): IterableIterator<[string, Status]> {
    return this.statuses.entries();
  }

  watch(listener: () => void): () => void {
    this.watchers.add(listener);
    return () => this.watchers.delete(listener);
  }
}

function response(status: Status): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

/** The `grpc.health.v1.Health` implementation. */
export function healthService(health: HealthStatus): ServiceImpl<typeof Health> {
  return {
    check(req) {
      const status = health.get(req.service);
      if (status === undefined) throw new ConnectError(`unknown service '${req.service}'`, Code.NotFound);
      return response(status);
    },
    async *watch(req, ctx) {
      let last: Status | undefined;
      let wake: (() => void) | undefined;
      const stop = health.watch(() => wake?.());
      const aborted = new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      try {
        while (!ctx.signal.aborted) {
          const status = health.get(req.service) ?? Status.SERVICE_UNKNOWN;
          if (status !== last) {
            last = status;
            yield response(status);
          }
          await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
        }
      } finally {
        stop();
      }
    },
    list() {
      const statuses: Record<string, HealthCheckResponse> = {};
      for (const [name, status] of health.entries()) statuses[name] = response(status);
      return { statuses };
    },
  };
}
