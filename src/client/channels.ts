import type { Client } from "@connectrpc/connect";
import type { EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import type { HeaderValues } from "./backend.js";
import { FastStepChannel } from "./fast-step-channel.js";
import { StepChannel } from "./step-channel.js";
import type { OwnedTransport } from "./transports.js";

/** Either implementation of a request/reply-correlated Step stream. */
export type AnyStepChannel = StepChannel | FastStepChannel;

/**
 * Opens a Step stream: written directly on the HTTP/2 connection for binary
 * gRPC, gRPC-Web and Connect (the fast path), through the generated Connect
 * client otherwise (JSON, in-process, custom transports).
 */
export function openStepChannel(
  rpc: Client<typeof EnvironmentService>,
  owned: OwnedTransport | undefined,
  headers: HeaderValues | undefined,
  fastPath = true,
): AnyStepChannel {
  const manager = owned?.sessionManager;
  if (fastPath && manager !== undefined && (owned?.kind === "grpc" || owned?.kind === "grpc-web" || owned?.kind === "connect")) {
    return new FastStepChannel(manager, owned.kind, headers === undefined ? {} : Object.fromEntries(new Headers(headers)));
  }
  return new StepChannel(rpc, headers);
}
