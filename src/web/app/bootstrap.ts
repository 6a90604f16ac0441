import { ConnectBackend } from "./connect-backend.js";
import { CallError, type EnvConnection } from "./connection.js";
import { OpenEnvBackend } from "./openenv-backend.js";
import { credentials } from "./token-store.js";

/** The server the page talks to: its own origin, or `?server=` (never a token). */
export function serverUrl(): string {
  const param = new URLSearchParams(location.search).get("server");
  return (param ?? location.origin).replace(/\/+$/, "");
}

/** Connect when the server streams Step to browsers, else OpenEnv's /ws (with Connect's descriptors when it has them). */
export async function connect(baseUrl: string): Promise<EnvConnection> {
  // Both at once: the Step probe does not need Describe's answer.
  const [rpc, stepStream] = await Promise.all([
    ConnectBackend.open(baseUrl, credentials),
    ConnectBackend.stepStreamAvailable(baseUrl, credentials),
  ]);
  if (rpc !== undefined) {
    if (stepStream) return rpc;
    // The server does not serve Step to browsers: its descriptors still drive the forms, /ws carries the session.
    const ws = await OpenEnvBackend.open(baseUrl, credentials, rpc.description);
    if (ws !== undefined) return ws;
  }
  const openenv = await OpenEnvBackend.open(baseUrl, credentials);
  if (openenv === undefined)
    throw new CallError(`${baseUrl} speaks neither Connect (Describe) nor OpenEnv's protocol (/schema)`, "unavailable");
  return openenv;
}
