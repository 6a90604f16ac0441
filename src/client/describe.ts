import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type DescribeResponse, EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import { registryFromFileSet } from "../protocol/descriptors.js";
import type { EnvClientOptions, EnvClientSpec } from "./env-client-options.js";

/** Describe as a Connect unary call over HTTP/1.1 (works through HTTP/1.1-only paths). */
export async function describeOverHttp1(
  baseUrl: string,
  options: Pick<EnvClientOptions, "headers" | "interceptors">,
  timeoutMs: number,
): Promise<DescribeResponse> {
  const transport = createConnectTransport({ baseUrl, httpVersion: "1.1", interceptors: options.interceptors ?? [] });
  return createClient(EnvironmentService, transport).describe({}, { headers: options.headers, timeoutMs });
}

/** The message schemas named by a Describe answer, decoded from its descriptors. */
export function schemasFromDescribe(info: DescribeResponse): EnvClientSpec {
  if (info.descriptors === undefined) throw new ConnectError("Describe returned no descriptors", Code.Internal);
  const registry = registryFromFileSet(info.descriptors);
  const get = (name: string): DescMessage => {
    const m = registry.getMessage(name);
    if (m === undefined) throw new ConnectError(`Describe's descriptors do not define ${name}`, Code.Internal);
    return m;
  };
  return {
    action: get(info.actionType),
    observation: get(info.observationType),
    state: get(info.stateType),
    partial: info.partialType !== "" ? get(info.partialType) : undefined,
  };
}
