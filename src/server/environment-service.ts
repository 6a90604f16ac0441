import { create, type JsonObject } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type DescribeResponse,
  DescribeResponseSchema,
  type EnvironmentService,
  type ResetRequest,
  type ResetResponse,
  ResetResponseSchema,
  StateResponseSchema,
} from "../../gen/openenv/v1/environment_service_pb.js";
import type { Session } from "../core/session.js";
import type { SessionManager } from "../core/session-manager.js";
import { msDuration, toStepResult } from "../core/step-messages.js";
import { stepStreamHandler } from "../core/step-stream.js";
import { fileDescriptorSet } from "../protocol/descriptors.js";
import { messageJsonSchema, openEnvObservationExtras } from "../protocol/json-schema.js";
import type { EnvironmentSpec } from "./environment.js";

/** Options of the EnvironmentService implementation. */
export interface EnvironmentServiceOptions {
  /** Replies remembered per session for request-id deduplication. */
  readonly recordSize: number;
  /** Largest message accepted, in bytes (reported by Describe). */
  readonly maxMessageBytes: number;
  /** Protocols the server speaks (reported by Describe). */
  readonly protocols: readonly string[];
}

/** JSON Schemas of an environment's messages, computed once per spec. */
export function jsonSchemasOf(spec: EnvironmentSpec): { action: JsonObject; observation: JsonObject; state: JsonObject } {
  return {
    action: messageJsonSchema(spec.action),
    observation: messageJsonSchema(spec.observation, { extraProperties: openEnvObservationExtras }),
    state: messageJsonSchema(spec.state, { additionalProperties: true }),
  };
}

/** Builds the Describe answer; everything but the live session count is fixed. */
export function describeEnvironment(
  spec: EnvironmentSpec,
  manager: SessionManager,
  options: EnvironmentServiceOptions,
): () => DescribeResponse {
  const schemas = jsonSchemasOf(spec);
  const descriptors = fileDescriptorSet([spec.action, spec.observation, spec.state, ...(spec.partial ? [spec.partial] : [])]);
  const limits = manager.limits;
  return () =>
    create(DescribeResponseSchema, {
      metadata: {
        name: spec.name,
        description: spec.description ?? `${spec.name} environment`,
        version: spec.version ?? "1.0.0",
        readme: spec.readme ?? "",
        author: spec.author ?? "",
        documentationUrl: spec.documentationUrl ?? "",
      },
      actionType: spec.action.typeName,
      observationType: spec.observation.typeName,
      stateType: spec.state.typeName,
      partialType: spec.partial?.typeName ?? "",
      descriptors,
      jsonSchemas: schemas,
      limits: {
        maxSessions: limits.maxSessions,
        activeSessions: manager.active,
        idleTimeout: limits.idleTimeoutMs > 0 ? msDuration(limits.idleTimeoutMs) : undefined,
        stepTimeout: msDuration(limits.stepTimeoutMs),
        maxMessageBytes: BigInt(options.maxMessageBytes),
        resumeGrace: msDuration(limits.resumeGraceMs),
      },
      capabilities: {
        concurrentSessions: limits.maxSessions > 1,
        protocols: [...options.protocols],
        partialObservations: spec.partial !== undefined,
        rewardComponents: [...(spec.rewardComponents ?? [])],
      },
    });
}

/** The EnvironmentService implementation over a session manager. */
export function environmentService(
  spec: EnvironmentSpec,
  manager: SessionManager,
  options: EnvironmentServiceOptions,
): ServiceImpl<typeof EnvironmentService> {
  const describe = describeEnvironment(spec, manager, options);
  return {
    async reset(req: ResetRequest, ctx: HandlerContext): Promise<ResetResponse> {
      const opened = req.sessionId === "";
      // A client already gone would never learn the new session's id: it would hold a slot until the idle timeout.
      if (opened && ctx.signal.aborted) throw new ConnectError("the client went away before its session was opened", Code.Canceled);
      if (!opened) {
        const remote = manager.placement?.remote(req.sessionId);
        if (remote !== undefined) return remote.reset(req, ctx);
      }
      const session: Session = opened ? await manager.open() : manager.get(req.sessionId);
      try {
        const timeoutMs = durationFromContext(ctx);
        const record = await session.reset({ seed: req.seed, episodeId: req.episodeId, options: req.options, timeoutMs });
        if (opened && ctx.signal.aborted) throw new ConnectError("the client went away before it learned its session", Code.Canceled);
        return create(ResetResponseSchema, { sessionId: session.id, result: toStepResult(spec, record) });
      } catch (err) {
        // A session the client never learned the id of would only leak.
        if (opened) await session.close({ code: Code.NotFound, message: "reset failed" });
        throw err;
      }
    },
    step(requests, ctx) {
      return stepStreamHandler(manager, spec, ctx, options, requests);
    },
    async state(req, ctx) {
      const remote = manager.placement?.remote(req.sessionId);
      if (remote !== undefined) return remote.state(req, ctx);
      const session = manager.get(req.sessionId);
      const state = await session.state();
      return create(StateResponseSchema, {
        sessionId: session.id,
        state: anyPack(spec.state, state),
        episodeId: session.episodeId,
        stepCount: session.stepCount,
      });
    },
    describe() {
      const placement = manager.placement;
      if (placement === undefined) return describe();
      // Several processes: report the sessions of all of them.
      return placement.activeSessions().then((active) => {
        const res = describe();
        if (res.limits !== undefined) res.limits.activeSessions = active;
        return res;
      });
    },
    async closeSession(req, ctx) {
      if (req.sessionId === "") throw new ConnectError("session_id is required", Code.InvalidArgument);
      const remote = manager.placement?.remote(req.sessionId);
      if (remote !== undefined) return remote.closeSession(req, ctx);
      const closed = await manager.close(req.sessionId, { code: Code.NotFound, message: "closed by CloseSession" });
      return { closed };
    },
  };
}

function durationFromContext(ctx: HandlerContext): number | undefined {
  const ms = ctx.timeoutMs();
  return ms === undefined ? undefined : Math.max(1, ms);
}
