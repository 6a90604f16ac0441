import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoEnvironment } from "../src/envs/echo/environment.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

// The `buf curl` one-liners of docs/other-languages.md, run against a real server:
// no generated code on the client, the schema comes from the server's gRPC reflection
// (or from the local protos with --schema).
const run = promisify(execFile);
const repo = join(import.meta.dirname, "..");
const buf = join(repo, "node_modules", ".bin", "buf");
let server: EnvironmentServer;

beforeAll(async () => {
  server = await serve(EchoEnvironment, { port: 0 });
});
afterAll(async () => {
  await server?.close();
});

async function bufCurl(args: string[]): Promise<JsonObject> {
  const { stdout } = await run(buf, ["curl", ...args], { cwd: repo, timeout: 60_000 });
  return JSON.parse(stdout) as JsonObject;
}

const method = (name: string): string => `${server.url}/openenv.v1.EnvironmentService/${name}`;

describe("buf curl against a running server", () => {
  it("calls Describe over gRPC with reflection", async () => {
    const out = await bufCurl(["--http2-prior-knowledge", "--protocol", "grpc", "--data", "{}", method("Describe")]);
    expect(out.actionType).toBe("openenv.envs.echo.v1.EchoAction");
    expect(out.observationType).toBe("openenv.envs.echo.v1.EchoObservation");
    expect((out.metadata as JsonObject).name).toBe("echo");
  });

  it("calls Reset over gRPC with reflection, decoding the Any observation", async () => {
    const out = await bufCurl([
      "--http2-prior-knowledge",
      "--protocol",
      "grpc",
      "--data",
      '{"seed": "7", "episode_id": "curl-1"}',
      method("Reset"),
    ]);
    const result = out.result as JsonObject;
    expect(out.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.episodeId).toBe("curl-1");
    expect(result.observation).toEqual({
      "@type": "type.googleapis.com/openenv.envs.echo.v1.EchoObservation",
      echoedMessage: "Echo environment ready!",
    });
    expect(server.router.sessions.find(out.sessionId as string)).toBeDefined();
    // The session opened by curl is a real one: State (Connect protocol, HTTP/1.1) reads it.
    const state = await bufCurl(["--data", JSON.stringify({ session_id: out.sessionId }), method("State")]);
    expect(state.episodeId).toBe("curl-1");
    expect((state.state as JsonObject)["@type"]).toBe("type.googleapis.com/openenv.envs.echo.v1.EchoState");
    const closed = await bufCurl(["--data", JSON.stringify({ session_id: out.sessionId }), method("CloseSession")]);
    expect(closed).toEqual({ closed: true });
  });

  it("calls Reset with the schema from the local protos instead of reflection", async () => {
    const out = await bufCurl(["--schema", "proto", "--http2-prior-knowledge", "--protocol", "grpc", "--data", "{}", method("Reset")]);
    expect((out.result as JsonObject).observation).toMatchObject({ echoedMessage: "Echo environment ready!" });
    await bufCurl(["--schema", "proto", "--data", JSON.stringify({ session_id: out.sessionId }), method("CloseSession")]);
  });

  it("lists the services through reflection", async () => {
    const { stdout } = await run(buf, ["curl", "--http2-prior-knowledge", "--list-services", server.url], { cwd: repo, timeout: 60_000 });
    expect(stdout.split("\n")).toContain("openenv.v1.EnvironmentService");
  });

  it("reports a gRPC error code", async () => {
    const err = await run(
      buf,
      ["curl", "--http2-prior-knowledge", "--protocol", "grpc", "--data", '{"session_id":"nope"}', method("State")],
      {
        cwd: repo,
        timeout: 60_000,
      },
    ).catch((e: unknown) => e as { stderr: string; code: number });
    expect("code" in err && err.code).not.toBe(0);
    expect((err as { stderr: string }).stderr).toContain('"code": "not_found"');
  });
});
