import { join } from "node:path";
import { isMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { EchoActionSchema } from "../../gen/openenv/envs/echo/v1/echo_pb.js";
import { AutoAction, AutoEnv, type AutoEnvClient } from "../../src/auto/auto-env.js";
import { clearDiscoveryCache } from "../../src/auto/discovery.js";
import { UnknownEnvironmentError } from "../../src/auto/names.js";
import { startInProcess } from "../../src/auto/providers/in-process.js";
import { EchoEnvironment, echoSpec } from "../../src/envs/echo/environment.js";
import { startNotOpenEnv } from "./fixtures/fake-openenv-server.js";
import { cleanupTemp, expectedKeys, fakeEnvPackage, isRunning, tempDir } from "./helpers.js";

afterAll(cleanupTemp);
afterEach(() => {
  vi.restoreAllMocks();
  clearDiscoveryCache();
});

function captureStdout(): () => string {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  return () => out;
}

describe("the AutoEnv guide, in TypeScript", () => {
  it("AutoEnv.fromEnv('echo') + AutoAction.fromEnv('echo'), then reset and step", async () => {
    const env = await AutoEnv.fromEnv("echo");
    const EchoAction = await AutoAction.fromEnv("echo");
    try {
      expect(env.running.provider).toBe("process");
      expect(isRunning(env.running.pid!)).toBe(true);
      const result = await env.reset();
      expect(result.observation).toMatchObject({ echoedMessage: "Echo environment ready!" });
      const action = new EchoAction({ message: "Hello, OpenEnv!" });
      expect(action.$typeName).toBe("openenv.envs.echo.v1.EchoAction");
      const step = await env.step(action);
      expect(step.observation).toMatchObject({ echoedMessage: "Hello, OpenEnv!", messageLength: 15 });
      expect(step.reward).toBeCloseTo(1.5);
    } finally {
      await env.close();
    }
    expect(isRunning(env.running.pid!)).toBe(false);
  });

  it("accepts every name form of the guide", async () => {
    for (const name of ["echo", "echo-env", "echo_env", "echo-env:latest"]) {
      await using env = await AutoEnv.fromEnv(name, { provider: "memory" });
      expect(env.envInfo?.envKey).toBe("echo");
      await env.reset();
      expect((await env.step({ message: name } as never)).observation).toMatchObject({ echoedMessage: name });
      const EchoAction = await AutoAction.fromEnv(name);
      expect(EchoAction.typeName).toBe("openenv.envs.echo.v1.EchoAction");
    }
  });

  it("runs in-process on a port, and gives a typed client when given the spec", async () => {
    const env = await AutoEnv.fromEnv("echo", { provider: "in-process", spec: echoSpec });
    try {
      expect(env.running.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      await env.reset();
      const r = await env.step({ message: "typed" });
      expect(r.observation.echoedMessage).toBe("typed"); // typed: no cast needed
    } finally {
      await env.close();
    }
  });

  it("lists the environments as OpenEnv prints them", () => {
    const project = tempDir("auto-list", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "coding", version: "0.1.0" });
    const out = captureStdout();
    const envs = AutoEnv.listEnvironments({ projectDir: project });
    expect(envs.map((e) => e.envKey)).toEqual(expectedKeys("coding"));
    const lines = out().split("\n");
    expect(lines.slice(0, 2)).toEqual(["Available Environments:", "-".repeat(70)]);
    expect(lines).toContain("coding         : Fake coding environment (v0.1.0)");
    expect(lines).toContain("echo           : Echoes each message back; reward is 0.1 per character. (v1.0.0)");
    expect(lines).toHaveLength(envs.length + 3); // header, rule, one line each, final newline
    const actions = AutoAction.listActions({ projectDir: project });
    expect(actions.map((a) => a.envKey)).toEqual(expectedKeys("coding"));
    expect(actions.find((a) => a.envKey === "coding")).toEqual({ envKey: "coding", actionClass: "CodingAction" });
    expect(actions.find((a) => a.envKey === "echo")).toEqual({ envKey: "echo", actionClass: "EchoAction" });
    expect(out()).toContain("Available Action Classes:\n");
    expect(out()).toContain("coding         : CodingAction\n");
  });

  it("fails on a typo with OpenEnv's message", async () => {
    const project = tempDir("auto-typo", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "coding" });
    const err = await AutoEnv.fromEnv("cooding-env", { projectDir: project }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnknownEnvironmentError);
    const available = expectedKeys("coding").join(", ");
    expect((err as Error).message).toBe(`Unknown environment 'cooding'.\nDid you mean: coding?\nAvailable environments: ${available}`);
    await expect(AutoAction.fromEnv("nonexistent-env", { projectDir: project })).rejects.toThrow(
      `Unknown environment 'nonexistent'.\nAvailable environments: ${available}`,
    );
  });

  it("reports environment and action info without importing, and the class on demand", async () => {
    const info = AutoEnv.getEnvInfo("echo");
    expect(info).toMatchObject({
      envKey: "echo",
      name: "echo_env",
      package: "openenv-connect",
      version: "1.0.0",
      envClass: "EchoEnvironment",
      actionClass: "EchoAction",
      observationClass: "EchoObservation",
      defaultImage: "openenv-echo:latest",
      specVersion: 1,
      module: "./environment.js",
    });
    expect(await AutoEnv.getEnvClass("echo_env")).toBe(EchoEnvironment);
    expect(AutoAction.getActionInfo("echo")).toEqual({
      envKey: "echo",
      envName: "echo_env",
      package: "openenv-connect",
      actionClass: "EchoAction",
      observationClass: "EchoObservation",
      stateClass: "EchoState",
      actionType: "openenv.envs.echo.v1.EchoAction",
      module: "./environment.js",
    });
  });

  it("runs an installed package's environment by name", async () => {
    const project = tempDir("auto-installed", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "coding" });
    await using env = await AutoEnv.fromEnv("coding-env", { projectDir: project, provider: "in-process" });
    const CodingAction = await AutoAction.fromEnv("coding", { projectDir: project });
    await env.reset();
    const r = await env.step(CodingAction({ message: "x" }));
    expect(r.observation).toMatchObject({ echoedMessage: "coding:x" });
  });

  it("is not instantiable", () => {
    expect(() => new (AutoEnv as unknown as new () => unknown)()).toThrow(TypeError);
    expect(() => new (AutoAction as unknown as new () => unknown)()).toThrow(TypeError);
  });
});

describe("URLs and base URLs", () => {
  it("connects to a URL, learning the schemas from Describe", async () => {
    const server = await startInProcess(EchoEnvironment);
    try {
      await using env = await AutoEnv.fromEnv(server.baseUrl!);
      expect(env.running.provider).toBe("url");
      expect(env.envInfo).toBeUndefined();
      await env.reset();
      const EchoAction = await AutoAction.fromEnv(server.baseUrl!);
      expect(EchoAction.fields).toEqual(["message"]);
      expect((await env.step(new EchoAction({ message: "by url" }))).observation).toMatchObject({ echoedMessage: "by url" });
    } finally {
      await server.stop();
    }
  });

  it("fails cleanly on a URL that is not an openenv-connect server (no crash on close)", async () => {
    const web = await startNotOpenEnv();
    try {
      const err = await AutoEnv.fromEnv(web.url).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      // The HTTP/2 session's late second error must not surface as an uncaught exception.
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await web.close();
    }
  });

  it("connects a named environment to baseUrl, and refuses a server of another environment", async () => {
    const server = await startInProcess(EchoEnvironment);
    const project = tempDir("auto-base", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "coding" });
    try {
      const env: AutoEnvClient = await AutoEnv.fromEnv("echo", { baseUrl: server.baseUrl });
      await env.close();
      const err = await AutoEnv.fromEnv("coding", { baseUrl: server.baseUrl, projectDir: project }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
      expect((err as ConnectError).rawMessage).toBe(
        `${server.baseUrl} serves openenv.envs.echo.v1.EchoAction, but environment 'coding' uses openenv.envs.coding.v1.CodingAction`,
      );
      expect(server.router!.sessions.active).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

describe("Action classes", () => {
  it("construct with or without new, from proto or camelCase names, and reject unknown fields", async () => {
    const EchoAction = await AutoAction.fromEnv<typeof EchoActionSchema>("echo");
    expect(EchoAction.schema).toBe(EchoActionSchema);
    expect(EchoAction.name).toBe("EchoAction");
    expect(EchoAction.className).toBe("EchoAction");
    const a = EchoAction({ message: "plain call" });
    expect(isMessage(a, EchoActionSchema)).toBe(true);
    expect(new EchoAction().message).toBe("");
    expect(EchoAction.fromJson({ message: "json" }).message).toBe("json");
    expect(() => new EchoAction({ mesage: "typo" })).toThrow("EchoAction has no field 'mesage'; its fields: message");
  });

  it("map snake_case proto names to fields", async () => {
    const project = tempDir("auto-snake", true);
    fakeEnvPackage(join(project, "node_modules"), { key: "snake" });
    const env = await AutoEnv.fromEnv("snake", { projectDir: project, provider: "memory" });
    try {
      const info = env.schemas.observation;
      const { actionClass } = await import("../../src/auto/action-class.js");
      const Observation = actionClass(info);
      expect(Observation({ echoed_message: "a", message_length: 1 })).toMatchObject({ echoedMessage: "a", messageLength: 1 });
    } finally {
      await env.close();
    }
  });
});
