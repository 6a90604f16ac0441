import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { McpEchoEnvironment } from "../src/envs/mcp_echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";
import { waitFor } from "./fixtures/wait-for.js";

// The Python SDK (clients/python) runs against this TypeScript server with Debian's
// python3-grpcio and python3-protobuf; /usr/bin/python3 because a pyenv python3
// earlier on PATH does not see Debian's dist-packages.
const python = "/usr/bin/python3";
const run = promisify(execFile);
const debianPackages = "python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc";

let server: EnvironmentServer;
let capacityServer: EnvironmentServer;
let mcpServer: EnvironmentServer;

beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0 });
  capacityServer = await serve(EchoEnvironment, { port: 0, maxSessions: 2 });
  mcpServer = await serve(McpEchoEnvironment, { port: 0 });
});
afterAll(async () => {
  await Promise.all([server?.close(), capacityServer?.close(), mcpServer?.close()]);
});

async function requirePythonRuntime(): Promise<void> {
  try {
    await run(python, ["-c", "import grpc, google.protobuf"]);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(
      `The Python SDK tests need ${python} with grpcio and protobuf. Install Debian's packages: ` +
        `apt-get install -y --no-install-recommends ${debianPackages}\n(${why})`,
    );
  }
}

describe("Python SDK (clients/python) against the TypeScript server", () => {
  it("passes its unittest suite over gRPC (blocking and asyncio clients): reset, steps, state, error codes, episodes on one stream", async () => {
    await requirePythonRuntime();
    const result = await run(python, ["-m", "unittest", "discover", "-v", "-s", "clients/python/tests"], {
      env: {
        ...process.env,
        OPENENV_URL: server.url,
        OPENENV_CAPACITY_URL: capacityServer.url,
        OPENENV_MCP_URL: mcpServer.url,
        PYTHONDONTWRITEBYTECODE: "1",
      },
      timeout: 240_000,
      maxBuffer: 16 << 20,
    }).catch((err: { stdout?: string; stderr?: string; message: string }) => {
      throw new Error(`python unittest failed:\n${err.stderr ?? ""}${err.stdout ?? ""}\n${err.message}`);
    });
    const report = result.stderr; // unittest writes its report to stderr
    expect(report).toMatch(/\nOK\s*$/);
    expect(report).not.toMatch(/skipped/);
    for (const name of [
      "test_reset_many_steps_and_state",
      "test_many_episodes_on_one_stream",
      "test_wrong_action_type_is_invalid_argument_from_the_server",
      "test_step_before_reset_is_failed_precondition",
      "test_unknown_session_is_not_found",
      "test_capacity_is_resource_exhausted",
      // Tool environments (test_tools.py): Describe's tools, ToolAction steps with Struct and typed arguments
      "test_describe_lists_the_tools_with_schemas_and_message_types",
      "test_calls_tools_as_steps_with_json_and_typed_arguments",
      "test_rollout",
      "test_resumes_the_session_on_a_new_stream_after_a_drop",
      // AsyncEnvClient (grpc.aio)
      "test_parallel_clients_each_keep_one_stream",
      "test_in_band_errors_leave_the_stream_usable",
      "test_capacity_detail_from_the_stream_and_from_a_unary_call",
    ]) {
      expect(report).toContain(`${name} `);
    }
    // The Python sessions were real sessions of these servers, and every client closed its own.
    expect(server.router.sessions.stats().opened).toBeGreaterThan(10);
    expect(capacityServer.router.sessions.stats().opened).toBeGreaterThanOrEqual(3);
    await waitFor(() => server.router.sessions.active === 0 && capacityServer.router.sessions.active === 0);
  }, 300_000);
});
