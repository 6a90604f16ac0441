import { create, type DescMessage } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { type DescribeResponse, EnvironmentService } from "../../gen/openenv/v1/environment_service_pb.js";
import { schemasFromDescribe } from "../client/describe.js";
import type { EnvClientSpec } from "../client/env-client-options.js";
import { speaksHttp2 } from "../client/http2-probe.js";
import { StepChannel } from "../client/step-channel.js";
import { connectStepStream } from "../client/step-streams.js";
import { createTransport, type OwnedTransport, type RpcTransportKind } from "../client/transports.js";
import { typeNameOf } from "../protocol/descriptors.js";
import { type CheckResult, isUnreachable } from "./check.js";

import { expect, runCheck, withTimeout } from "./run-check.js";

/** The contract's checks, in order. */
const grpcCheckNames = ["grpc_health", "describe", "reflection", "protocols", "session", "step_stream"] as const;

export async function grpcChecks(baseUrl: string, timeoutMs: number, headers: Readonly<Record<string, string>>): Promise<CheckResult[]> {
  // An OpenEnv server (HTTP/1.1 and /ws only) cannot serve the contract: say so once, not
  // "Protocol error" per check. Nothing listening is left to the checks, which report it.
  const h2 = await speaksHttp2(baseUrl, timeoutMs);
  if (h2 !== true && !isUnreachable(h2)) {
    const detail =
      `${baseUrl} speaks no HTTP/2 (an OpenEnv server answers HTTP/1.1 and /ws only), so it serves no Connect/gRPC contract; ` +
      "--checks openenv checks only OpenEnv's surface";
    return grpcCheckNames.map((name, i) =>
      i < 4 ? { name, group: "grpc", status: "fail", detail } : { name, group: "grpc", status: "skip", detail: "needs HTTP/2" },
    );
  }
  const owned: OwnedTransport[] = [];
  const rpcOf = (kind: RpcTransportKind): OwnedTransport => {
    const t = createTransport({ kind, baseUrl });
    owned.push(t);
    return t;
  };
  const connect = rpcOf("connect");
  const env = createClient(EnvironmentService, connect.transport);
  const call = { timeoutMs, headers };
  const out: CheckResult[] = [];
  let info: DescribeResponse | undefined;
  let spec: EnvClientSpec | undefined;
  try {
    out.push(
      await runCheck("grpc", "grpc_health", async () => {
        const health = createClient(Health, rpcOf("grpc").transport);
        const r = await health.check({ service: "" }, call);
        expect(
          r.status === HealthCheckResponse_ServingStatus.SERVING,
          `grpc.health.v1.Health says ${HealthCheckResponse_ServingStatus[r.status]}`,
        );
        const svc = await health.check({ service: EnvironmentService.typeName }, call);
        expect(
          svc.status === HealthCheckResponse_ServingStatus.SERVING,
          `${EnvironmentService.typeName} is ${HealthCheckResponse_ServingStatus[svc.status]}`,
        );
        return `SERVING (server and ${EnvironmentService.typeName}, gRPC over h2c)`;
      }),
    );
    out.push(
      await runCheck("grpc", "describe", async () => {
        info = await env.describe({}, call);
        expect(
          info.actionType !== "" && info.observationType !== "" && info.stateType !== "",
          "Describe names no Action/Observation/State types",
        );
        spec = schemasFromDescribe(info);
        return `${info.metadata?.name ?? "?"}: ${info.actionType} / ${info.observationType} / ${info.stateType}; descriptors decode`;
      }),
    );
    out.push(
      await runCheck("grpc", "reflection", async () => {
        const reflection = createClient(ServerReflection, rpcOf("grpc").transport);
        const requests = (async function* () {
          yield { host: "", messageRequest: { case: "listServices" as const, value: "" } };
        })();
        const names: string[] = [];
        for await (const res of reflection.serverReflectionInfo(requests, call)) {
          if (res.messageResponse.case === "listServicesResponse") names.push(...res.messageResponse.value.service.map((s) => s.name));
          break;
        }
        expect(
          names.includes(EnvironmentService.typeName),
          `reflection lists ${names.join(", ") || "no services"}, not ${EnvironmentService.typeName}`,
        );
        return `lists ${names.length} services, ${EnvironmentService.typeName} among them`;
      }),
    );
    out.push(
      await runCheck("grpc", "protocols", async () => {
        const ok: string[] = [];
        for (const kind of ["connect", "connect-json", "grpc", "grpc-web"] as const) {
          const c = createClient(EnvironmentService, rpcOf(kind).transport);
          const d = await c.describe({}, call);
          expect(d.actionType === info?.actionType, `${kind}: Describe answered ${d.actionType}`);
          ok.push(`${kind} (h2c)`);
        }
        const h1 = createClient(EnvironmentService, createConnectTransport({ baseUrl, httpVersion: "1.1" }));
        await h1.describe({}, call);
        ok.push("connect (HTTP/1.1)");
        return ok.join(", ");
      }),
    );
    out.push(
      await runCheck("grpc", "session", async () => {
        if (spec === undefined) return { status: "skip", detail: "needs a working Describe" };
        const reset = await env.reset({}, call);
        expect(reset.sessionId !== "", "Reset returned no session_id");
        const obs = reset.result?.observation;
        expect(
          obs !== undefined && typeNameOf(obs.typeUrl) === spec.observation.typeName,
          `Reset's observation is ${obs?.typeUrl ?? "missing"}`,
        );
        const state = await env.state({ sessionId: reset.sessionId }, call);
        expect(
          state.state !== undefined && typeNameOf(state.state.typeUrl) === spec.state.typeName,
          `State returned ${state.state?.typeUrl ?? "no state"}`,
        );
        const closed = await env.closeSession({ sessionId: reset.sessionId }, call);
        expect(closed.closed, "CloseSession of an open session answered closed=false");
        const again = await env.closeSession({ sessionId: reset.sessionId }, call);
        expect(!again.closed, "CloseSession of a closed session answered closed=true");
        return "Reset → State → CloseSession (closed once, then gone)";
      }),
    );
    out.push(
      await runCheck("grpc", "step_stream", async () => {
        if (spec === undefined) return { status: "skip", detail: "needs a working Describe" };
        const channel = new StepChannel(connectStepStream(env, headers));
        try {
          const first = await withTimeout(channel.request({ command: { case: "reset", value: {} } }), timeoutMs, "in-stream reset");
          expect(first.case === "result", `in-stream reset answered ${first.case}`);
          const schema: DescMessage = spec.action;
          let stepped: string;
          try {
            const r = await withTimeout(
              channel.request({ command: { case: "action", value: anyPack(schema, create(schema)) } }),
              timeoutMs,
              "step",
            );
            stepped = r.case === "result" ? `result (step_count ${r.value.stepCount})` : r.case;
          } catch (err) {
            expect(err instanceof ConnectError && channel.broken === undefined, `the stream broke on a step: ${(err as Error).message}`);
            stepped = `in-band error ${err.code} for the default action`;
          }
          const s = await withTimeout(channel.request({ command: { case: "state", value: {} } }), timeoutMs, "state");
          expect(s.case === "state", `state query answered ${s.case}`);
          return `reset → step (${stepped}) → state on one stream`;
        } finally {
          await channel.close().catch(() => {});
        }
      }),
    );
  } finally {
    for (const t of owned) t.close();
  }
  return out;
}
