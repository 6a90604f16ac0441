import WebSocket from "ws";
import { isJsonObject } from "../protocol/json-object.js";
import type { CheckResult } from "./check.js";

import { CheckFailure, expect, runCheck, withTimeout } from "./run-check.js";

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

export async function openEnvChecks(baseUrl: string, timeoutMs: number, headers: Readonly<Record<string, string>>): Promise<CheckResult[]> {
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
