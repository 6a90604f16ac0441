import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { serveGateway } from "../../gateway/gateway.js";
import { type Command, intOption, secondsOption, UsageError } from "../common.js";
import { stopOnSignals } from "../shutdown.js";

export const gatewayCommand: Command = {
  name: "gateway",
  summary: "Serve the typed contract in front of an OpenEnv HTTP/WebSocket server",
  help: `Usage: openenv gateway URL [options]

Serves Connect, gRPC and gRPC-Web (h2c and HTTP/1.1, one port) in front of
an OpenEnv server at URL, e.g. a Python environment from OpenEnv: the Step
stream with request ids, in-stream reset, resume and exactly-once replies,
Describe, grpc.health.v1 (following the upstream's /health) and reflection.
The Action, Observation and State messages are generated from the
upstream's /schema, as 'openenv proto --url URL' writes them. Each session
holds one upstream /ws session.

Options:
  --port N             TCP port (default 8000; 0 picks a free one)
  --host HOST          interface to bind (default 127.0.0.1)
  --package PKG        proto package of the generated messages
                       (default openenv.upstream.<name>.v1)
  --max-sessions N     most sessions at once (default 64; the upstream has its own limit)
  --idle-timeout S     close sessions idle for S seconds (default 600; 0 never)
  --upstream-header H  'Name: value' sent to the upstream (repeatable)
  --token TOKEN        require 'Authorization: Bearer TOKEN' from clients (repeatable;
                       also read from OPENENV_AUTH_TOKEN); health checks stay open
  --proto FILE         also write the generated .proto to FILE
  --json               print one JSON line {"event":"listening","url",...} when ready

Examples:
  openenv gateway http://127.0.0.1:8001 --port 8000
  openenv gateway https://user-env.hf.space --port 0 --json
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        port: { type: "string", default: "8000" },
        host: { type: "string", default: "127.0.0.1" },
        package: { type: "string" },
        "max-sessions": { type: "string" },
        "idle-timeout": { type: "string" },
        "upstream-header": { type: "string", multiple: true },
        token: { type: "string", multiple: true },
        proto: { type: "string" },
        json: { type: "boolean" },
      },
    });
    const upstream = positionals[0];
    if (upstream === undefined || positionals.length > 1) throw new UsageError("expected one upstream URL");
    if (!/^https?:\/\//.test(upstream)) throw new UsageError(`the upstream must be an http:// or https:// URL, got '${upstream}'`);
    const headers = new Headers();
    for (const h of values["upstream-header"] ?? []) {
      const i = h.indexOf(":");
      if (i <= 0) throw new UsageError(`--upstream-header must be 'Name: value', got '${h}'`);
      headers.append(h.slice(0, i).trim(), h.slice(i + 1).trim());
    }
    const idle = secondsOption("idle-timeout", values["idle-timeout"]);
    const tokens = [...(values.token ?? []), ...(process.env.OPENENV_AUTH_TOKEN ? [process.env.OPENENV_AUTH_TOKEN] : [])];
    const gateway = await serveGateway(upstream, {
      port: intOption("port", values.port, 0, 65535),
      host: values.host,
      package: values.package,
      maxSessions: intOption("max-sessions", values["max-sessions"], 1),
      idleTimeoutMs: idle === undefined ? undefined : idle * 1000,
      upstreamHeaders: headers,
      auth: tokens.length > 0 ? { tokens } : undefined,
    });
    if (values.proto !== undefined) writeFileSync(values.proto, gateway.upstream.generated.text);
    const stopped = stopOnSignals(() => gateway.close(), io);
    const spec = gateway.upstream.spec;
    if (values.json) {
      const event = {
        event: "listening",
        url: gateway.url,
        port: gateway.port,
        host: gateway.host,
        pid: process.pid,
        upstream,
        env: spec.name,
        action: spec.action.typeName,
        observation: spec.observation.typeName,
        state: spec.state.typeName,
      };
      io.out(`${JSON.stringify(event)}\n`);
    } else {
      io.out(
        `openenv: gateway on ${gateway.url} for ${upstream} (${spec.name}; Connect, gRPC, gRPC-Web; ${spec.action.typeName}, ${spec.observation.typeName}, ${spec.state.typeName})\n`,
      );
    }
    return stopped;
  },
};
