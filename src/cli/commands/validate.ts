import { parseArgs } from "node:util";
import { formatReport, type ValidationReport } from "../../validation/check.js";
import { validatePackage } from "../../validation/package.js";
import { type ServerCheckGroup, validateServer } from "../../validation/server.js";
import { type Command, ExitCode, secondsOption, UsageError } from "../common.js";
import { authHeaders } from "../remote.js";

export const validateCommand: Command = {
  name: "validate",
  summary: "Check an environment package, or a running server (--url)",
  help: `Usage: openenv validate [PATH]
       openenv validate --url URL [--checks all|grpc|openenv] [--token TOKEN]

Prints one PASS/FAIL/WARN line per check and exits 0 when none failed.

PATH (default .): a directory with an openenv.yaml (or the file). Checks the
manifest (errors name file, line and field), package.json (discoverable once
installed, depends on openenv-connect), the module and its exported class
(message types match the manifest), the .proto sources, the README, and a
short in-process rollout.

--url URL: checks a running server.
  grpc     our contract: grpc_health, describe, reflection, protocols
           (Connect, gRPC, gRPC-Web over h2c; Connect over HTTP/1.1),
           session (Reset, State, CloseSession), step_stream
  openenv  OpenEnv's HTTP/WebSocket surface, with the criteria of OpenEnv's
           validator: openapi_version_available, health_endpoint,
           metadata_endpoint, schema_endpoint, mcp_endpoint,
           mode_endpoint_consistency, plus http_reset and ws_session
  all      both (default)

Options:
  --url URL        validate a running server instead of a package
  --checks GROUP   all (default), grpc or openenv (with --url)
  --json           print the report as JSON
  --timeout S      deadline of each request with --url (default 5)
  --token TOKEN    with --url: send 'Authorization: Bearer TOKEN' (default: the
                   OPENENV_AUTH_TOKEN environment variable)

Exit codes: 0 all passed, 1 a check failed, 2 usage, 4 the server was unreachable.

Examples:
  openenv validate ./my-env
  openenv validate --url http://127.0.0.1:8000
`,
  async run(args, io) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        url: { type: "string" },
        checks: { type: "string" },
        json: { type: "boolean" },
        timeout: { type: "string" },
        token: { type: "string" },
      },
    });
    if (positionals.length > 1) throw new UsageError("expected at most one PATH");
    let result: ValidationReport;
    if (values.url !== undefined) {
      if (positionals.length > 0) throw new UsageError("give PATH or --url, not both");
      if (!/^https?:\/\//.test(values.url)) throw new UsageError(`--url must be an http:// or https:// URL, got '${values.url}'`);
      const checks = values.checks ?? "all";
      if (!["all", "grpc", "openenv"].includes(checks)) throw new UsageError(`--checks must be all, grpc or openenv, got '${checks}'`);
      const timeout = secondsOption("timeout", values.timeout);
      result = await validateServer(values.url, {
        checks: checks as ServerCheckGroup,
        timeoutMs: timeout === undefined ? undefined : timeout * 1000,
        headers: authHeaders(values.token),
      });
    } else {
      if (values.checks !== undefined) throw new UsageError("--checks applies to --url only");
      if (values.token !== undefined) throw new UsageError("--token applies to --url only");
      result = await validatePackage(positionals[0] ?? ".");
    }
    io.out(values.json ? `${JSON.stringify(result, null, 2)}\n` : formatReport(result));
    if (result.passed) return ExitCode.ok;
    const failed = result.checks.filter((c) => c.status === "fail");
    return failed.every((c) => c.unreachable === true) ? ExitCode.unreachable : ExitCode.failure;
  },
};
