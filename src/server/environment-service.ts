import { create, type JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  type DescribeResponse,
  DescribeResponseSchema,
  type EnvironmentService,
  type ResetRequest,
  type ResetResponse,
  ResetResponseSchema,
  type StepRequest,
  type StepResponse,
} from "../../gen/openenv/v1/environment_service_pb.js";
import type { Session } from "../core/session.js";
import type { SessionManager } from "../core/session-manager.js";
import { abortOn, keepSessionHeader, type OpenStepStream, wantsKeepSession } from "../core/step-input.js";
import { msDuration, stateResponse, toStepResult } from "../core/step-messages.js";
import { AsyncQueue } from "../protocol/async-queue.js";
import { fileDescriptorSet } from "../protocol/descriptors.js";
import { messageJsonSchema, openEnvObservationExtras } from "../protocol/json-schema.js";
import type { EnvironmentSpec } from "./environment.js";
import type { ServerMode } from "./tools/define.js";
import { describeTools, specMessages, toolsOf } from "./tools/tool-environment.js";

/** Options of the EnvironmentService implementation. */
export interface EnvironmentServiceOptions {
  /** Largest message accepted, in bytes (reported by Describe). */
  readonly maxMessageBytes: number;
  /** Protocols the server speaks (reported by Describe). */
  readonly protocols: readonly string[];
  /** The server's mode: Describe lists the tools available in it. Default simulation. */
  readonly mode?: ServerMode;
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
  const descriptors = fileDescriptorSet(specMessages(spec));
  const tools = toolsOf(spec);
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
      tools: tools === undefined ? [] : describeTools(tools, options.mode ?? "simulation"),
    });
}

/** The EnvironmentService implementation over a session manager; Step streams come from `openStepStream`. */
export function environmentService(
  spec: EnvironmentSpec,
  manager: SessionManager,
  options: EnvironmentServiceOptions,
  openStepStream: OpenStepStream,
): ServiceImpl<typeof EnvironmentService> {
  const describe = describeEnvironment(spec, manager, options);
  return {
    async reset(req: ResetRequest, ctx: HandlerContext): Promise<ResetResponse> {
      const opened = req.sessionId === "";
      // A client already gone would never learn the new session's id: it would hold a slot until the idle timeout.
      if (opened && ctx.signal.aborted) throw new ConnectError("the client went away before its session was opened", Code.Canceled);
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
      return stepStream(openStepStream, ctx, requests);
    },
    async state(req) {
      const session = manager.get(req.sessionId);
      return stateResponse(spec, session, await session.state());
    },
    describe() {
      return describe();
    },
    async closeSession(req) {
      if (req.sessionId === "") throw new ConnectError("session_id is required", Code.InvalidArgument);
      const closed = await manager.close(req.sessionId, { code: Code.NotFound, message: "closed by CloseSession" });
      return { closed };
    },
  };
}

/** Serves a Step stream for connect-node: requests from its iterable, replies through a queue. */
function stepStream(open: OpenStepStream, ctx: HandlerContext, requests: AsyncIterable<StepRequest>): AsyncIterable<StepResponse> {
  const out = new AsyncQueue<StepResponse>();
  const keepSession = wantsKeepSession(ctx.requestHeader.get(keepSessionHeader));
  const input = open(out, { keepSession, requestHeaders: ctx.requestHeader });
  // A bidi handler blocked waiting for the next request does not notice shutdown by itself.
  abortOn(ctx.signal, input);
  void (async () => {
    try {
      for await (const req of requests) input.feed(req);
      // A client reset (RST_STREAM) also ends the request iterable, just before the
      // context's signal aborts: wait a turn, so that a cancel is a drop (abort()
      // keeps the session for a resume) and only a real half-close ends the session.
      await new Promise((resolve) => setImmediate(resolve));
      input.finish();
    } catch (err) {
      input.abort(err);
    }
  })();
  return out;
}

function durationFromContext(ctx: HandlerContext): number | undefined {
  const ms = ctx.timeoutMs();
  return ms === undefined ? undefined : Math.max(1, ms);
}
