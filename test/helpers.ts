import { create } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { EchoActionSchema } from "../gen/openenv/envs/echo/v1/echo_pb.js";
import { EnvironmentService } from "../gen/openenv/v1/environment_service_pb.js";
import { StepChannel } from "../src/client/step-channel.js";
import { connectStepStream } from "../src/client/step-streams.js";
import { createTransport, type OwnedTransport, type RpcTransportKind } from "../src/client/transports.js";

export { waitFor } from "./fixtures/wait-for.js";

/** An `Any` holding an EchoAction. */
export function echoAction(message: string) {
  return anyPack(EchoActionSchema, create(EchoActionSchema, { message }));
}

/** A raw Step stream (request ids under the caller's control) and its transport. */
export function rawChannel(baseUrl: string, kind: RpcTransportKind = "connect"): { channel: StepChannel; transport: OwnedTransport } {
  const transport = createTransport({ kind, baseUrl });
  return { channel: new StepChannel(connectStepStream(createClient(EnvironmentService, transport.transport))), transport };
}

/** The generated Connect client over a fresh transport. */
export function rpcClient(baseUrl: string, kind: RpcTransportKind = "connect") {
  const transport = createTransport({ kind, baseUrl });
  return { client: createClient(EnvironmentService, transport.transport), transport };
}
