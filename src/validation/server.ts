import { create, type DescMessage } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import WebSocket from "ws";
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
import { isJsonObject } from "../protocol/json-object.js";
import { type CheckResult, isUnreachable, report, type ValidationReport } from "./check.js";

/** Which checks {@link validateServer} runs. */
export type ServerCheckGroup = "all" | "grpc" | "openenv";

/** Options of {@link validateServer}. */
export interface ServerValidationOptions {
  /** `grpc`: our Connect/gRPC contract; `openenv`: OpenEnv's HTTP/WebSocket surface; `all` (default): both. */
  readonly checks?: ServerCheckGroup;
  /** Deadline of each request. Default 5 s (OpenEnv's `--timeout`). */
  readonly timeoutMs?: number;
  /** Headers sent with every request (e.g. `authorization` for a server started with a token). */
  readonly headers?: Readonly<Record<string, string>>;
}

type CheckFn = () => Promise<string | { status: "warn" | "skip"; detail: string }>;

async function runCheck(group: string, name: string, fn: CheckFn): Promise<CheckResult> {
  try {
    const r = await fn();
    return typeof r === "string" ? { name, group, status: "pass", detail: r } : { name, group, ...r };
  } catch (err) {
    return { name, group, status: "fail", detail: describeError(err), unreachable: isUnreachable(err) };
  }
}

/** An error's message with its cause's (fetch says only "fetch failed"). */
function describeError(err: unknown): string {
  if (err instanceof ConnectError) return `${err.rawMessage} [${Code[err.code]}]`;
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? err.cause.message : undefined;
  return cause === undefined || err.message.includes(cause) ? err.message : `${err.message} (${cause})`;
}

/** A failed expectation inside a check. */
class CheckFailure extends Error {}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailure(message);
}

/**
 * Checks a running server: the openenv-connect contract (health, Describe,
 * reflection, every protocol, a session's lifecycle and the Step stream) and
 * OpenEnv's HTTP/WebSocket surface, with the criteria names of OpenEnv's
 * `openenv validate --url` (`health_endpoint`, `schema_endpoint`, ...).
 */
export async function validateServer(url: string, options: ServerValidationOptions = {}): Promise<ValidationReport> {
  const baseUrl = url.replace(/\/+$/, "");
  const which = options.checks ?? "all";
  const timeoutMs = options.timeoutMs ?? 5_000;
  const headers = options.headers ?? {};
  const checks: CheckResult[] = [];
  if (which === "all" || which === "grpc") checks.push(...(await grpcChecks(baseUrl, timeoutMs, headers)));
  if (which === "all" || which === "openenv") checks.push(...(await openEnvChecks(baseUrl, timeoutMs, headers)));
  return report(baseUrl, checks);
}

/** The contract's checks, in order. */
const grpcCheckNames = ["grpc_health", "describe", "reflection", "protocols", "session", "step_stream"] as const;

async function grpcChecks(baseUrl: string, timeoutMs: number, headers: Readonly<Record<string, string>>): Promise<CheckResult[]> {
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

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckFailure(`${what} got no reply within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function getJson(
  baseUrl: string,
  path: string,
  timeoutMs: number,
  headers: Readonly<Record<string, string>>,
  init?: { method: string; body: string },
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${baseUrl}${path}`, {
    ...init,
    headers: init === undefined ? headers : { ...headers, "content-type": "application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CheckFailure(`${init?.method ?? "GET"} ${path} → ${res.status}, not JSON: ${text.slice(0, 80).replace(/\s+/g, " ")}`);
  }
  return { status: res.status, body };
}

async function openEnvChecks(baseUrl: string, timeoutMs: number, headers: Readonly<Record<string, string>>): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  let paths: Record<string, unknown> | undefined;
  out.push(
    await runCheck("openenv", "openapi_version_available", async () => {
      const { status, body } = await getJson(baseUrl, "/openapi.json", timeoutMs, headers);
      expect(status === 200, `GET /openapi.json → ${status}`);
      expect(
        isJsonObject(body) && isJsonObject(body.info) && typeof body.info.version === "string",
        "GET /openapi.json has no info.version string",
      );
      expect(isJsonObject(body.paths), "GET /openapi.json has no paths object");
      paths = body.paths;
      const version = (body.info as { version: string }).version;
      return `info.version ${version}${version.startsWith("1.") ? " (profile openenv-http/1.x)" : ""}`;
    }),
  );
  out.push(
    await runCheck("openenv", "health_endpoint", async () => {
      const { status, body } = await getJson(baseUrl, "/health", timeoutMs, headers);
      expect(status === 200, `GET /health → ${status}`);
      expect(isJsonObject(body) && body.status === "healthy", `GET /health → ${JSON.stringify(body)}, expected {"status":"healthy"}`);
      return 'GET /health → {"status":"healthy"}';
    }),
  );
  out.push(
    await runCheck("openenv", "metadata_endpoint", async () => {
      const { status, body } = await getJson(baseUrl, "/metadata", timeoutMs, headers);
      expect(status === 200, `GET /metadata → ${status}`);
      expect(
        isJsonObject(body) && typeof body.name === "string" && typeof body.description === "string",
        "GET /metadata lacks name and description strings",
      );
      return `name ${JSON.stringify(body.name)}`;
    }),
  );
  out.push(
    await runCheck("openenv", "schema_endpoint", async () => {
      const { status, body } = await getJson(baseUrl, "/schema", timeoutMs, headers);
      expect(status === 200, `GET /schema → ${status}`);
      expect(
        isJsonObject(body) && isJsonObject(body.action) && isJsonObject(body.observation) && isJsonObject(body.state),
        "GET /schema lacks action, observation and state schemas",
      );
      return "action, observation and state JSON Schemas";
    }),
  );
  out.push(
    await runCheck("openenv", "mcp_endpoint", async () => {
      const { status, body } = await getJson(baseUrl, "/mcp", timeoutMs, headers, { method: "POST", body: "{}" });
      expect(status === 200, `POST /mcp → ${status}`);
      expect(
        isJsonObject(body) && body.jsonrpc === "2.0",
        `POST /mcp {} → ${JSON.stringify(body).slice(0, 80)}, expected a JSON-RPC 2.0 reply`,
      );
      return 'POST /mcp {} → 200, "jsonrpc": "2.0"';
    }),
  );
  let simulation = false;
  out.push(
    await runCheck("openenv", "mode_endpoint_consistency", async () => {
      if (paths === undefined) return { status: "skip", detail: "needs /openapi.json" };
      const present = ["/reset", "/step", "/state"].filter((p) => paths?.[p] !== undefined);
      expect(present.length === 0 || present.length === 3, `only ${present.join(", ")} of /reset, /step, /state are in the OpenAPI paths`);
      simulation = present.length === 3;
      return simulation ? "simulation mode (/reset, /step, /state)" : "production mode (no /reset, /step, /state)";
    }),
  );
  out.push(
    await runCheck("openenv", "http_reset", async () => {
      if (paths === undefined) return { status: "skip", detail: "needs /openapi.json" };
      if (!simulation) return { status: "skip", detail: "production mode: no HTTP /reset" };
      const { status, body } = await getJson(baseUrl, "/reset", timeoutMs, headers, { method: "POST", body: "{}" });
      expect(status === 200, `POST /reset → ${status}`);
      expect(
        isJsonObject(body) && isJsonObject(body.observation) && typeof body.done === "boolean",
        "POST /reset lacks observation and done",
      );
      return "POST /reset → {observation, reward, done}";
    }),
  );
  out.push(await runCheck("openenv", "ws_session", () => wsSession(baseUrl, timeoutMs, headers)));
  return out;
}

async function wsSession(baseUrl: string, timeoutMs: number, headers: Readonly<Record<string, string>>): Promise<string> {
  const ws = new WebSocket(`${baseUrl.replace(/^http/, "ws")}/ws`, { handshakeTimeout: timeoutMs, headers: { ...headers } });
  const frames: unknown[] = [];
  const waiters: Array<(v: unknown) => void> = [];
  ws.on("message", (data, binary) => {
    let frame: unknown;
    try {
      frame = binary ? undefined : JSON.parse(String(data));
    } catch {
      frame = undefined;
    }
    const w = waiters.shift();
    if (w !== undefined) w(frame);
    else frames.push(frame);
  });
  const next = (what: string): Promise<unknown> =>
    withTimeout(
      new Promise((resolve) => {
        const f = frames.shift();
        if (f !== undefined) resolve(f);
        else waiters.push(resolve);
      }),
      timeoutMs,
      what,
    );
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
        ws.once("unexpected-response", (_req, res) => reject(new CheckFailure(`WebSocket /ws refused: HTTP ${res.statusCode}`)));
      }),
      timeoutMs,
      "WebSocket /ws handshake",
    );
    ws.send(JSON.stringify({ type: "reset", data: {} }));
    const obs = await next("reset frame");
    expect(
      isJsonObject(obs) && obs.type === "observation" && isJsonObject(obs.data) && isJsonObject(obs.data.observation),
      `reset answered ${JSON.stringify(obs)}`,
    );
    ws.send(JSON.stringify({ type: "state" }));
    const state = await next("state frame");
    expect(isJsonObject(state) && state.type === "state" && isJsonObject(state.data), `state answered ${JSON.stringify(state)}`);
    ws.send(JSON.stringify({ type: "close" }));
    return 'reset → "observation", state → "state", close';
  } finally {
    ws.terminate();
  }
}
