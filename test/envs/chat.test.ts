import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StopReason } from "../../gen/openenv/envs/chat/v1/chat_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { ChatEnvironment, chatSpec } from "../../src/envs/chat/environment.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { FakeLlmServer } from "../fixtures/fake-llm.js";
import { expectConnectError } from "./helpers.js";

let llm: FakeLlmServer;
let plain: EnvironmentServer;
let judged: EnvironmentServer;

beforeAll(async () => {
  llm = await new FakeLlmServer((req) => {
    const prompt = req.messages.at(-1)?.content ?? "";
    const reply = prompt.slice(prompt.indexOf("Latest assistant reply:"));
    if (reply.includes("SLOW")) return "hang";
    return reply.includes("Paris") ? '{"score": 0.9, "reason": "correct and concise"}' : '{"score": 0.1, "reason": "wrong capital"}';
  }).start();
  plain = await serve(ChatEnvironment, { port: 0 });
  judged = await serve(ChatEnvironment.with({ judge: { baseUrl: llm.baseUrl, model: "grader", apiKey: "k", timeoutMs: 300 } }), {
    port: 0,
  });
});
afterAll(async () => {
  await Promise.all([plain.close(), judged.close()]);
  await llm.close();
});

const connect = (s: EnvironmentServer) => EnvClient.connect({ baseUrl: s.url, spec: chatSpec });

describe("chat over a real server", () => {
  it("keeps the history, counts turns and truncates at the turn limit", async () => {
    await using env = await connect(plain);
    const first = await env.reset({ options: { system_prompt: "Be brief.", messages: [{ role: "user", content: "Hi" }], max_turns: 2 } });
    expect(first.observation.messages.map((m) => [m.role, m.content])).toEqual([
      ["system", "Be brief."],
      ["user", "Hi"],
    ]);
    expect(first.observation.turnsRemaining).toBe(2);
    const a = await env.step({ role: "assistant", content: "Hello!" });
    expect(a.observation.messages).toHaveLength(3);
    expect(a.observation.turn).toBe(1);
    expect(a.reward).toBeUndefined(); // no rubric, no judge configured
    expect(a.done).toBe(false);
    const b = await env.step({ role: "user", content: "Thanks" });
    expect(b.truncated).toBe(true);
    expect(b.terminated).toBe(false);
    expect(b.observation.stopReason).toBe(StopReason.MAX_TURNS);
    expect((await env.state()).messages.map((m) => m.content)).toEqual(["Be brief.", "Hi", "Hello!", "Thanks"]);
  });

  it("terminates on a stop sequence (configurable)", async () => {
    await using env = await connect(plain);
    await env.reset();
    const r = await env.step({ role: "assistant", content: "All done [DONE]" });
    expect(r.terminated).toBe(true);
    expect(r.observation.stopReason).toBe(StopReason.STOP_SEQUENCE);
    await env.reset({ options: { stop_sequences: ["<end>"] } });
    expect((await env.step({ role: "assistant", content: "[DONE]" })).done).toBe(false);
    expect((await env.step({ role: "assistant", content: "bye <end>" })).terminated).toBe(true);
    await env.reset({ options: { stop_sequences: [] } });
    expect((await env.step({ role: "assistant", content: "[DONE]" })).done).toBe(false);
  });

  it("scores assistant messages with an LLM judge: reward, component and feedback", async () => {
    await using env = await connect(judged);
    await env.reset({ options: { messages: [{ role: "user", content: "Capital of France?" }] } });
    const before = llm.requests.length;
    const good = await env.step({ role: "assistant", content: "Paris." });
    expect(good.reward).toBeCloseTo(0.9);
    expect(good.rewardComponents).toEqual({ judge: 0.9 });
    expect(good.observation.judgeFeedback).toBe("correct and concise");
    const req = llm.requests[before];
    expect(req.model).toBe("grader");
    expect(req.authorization).toBe("Bearer k");
    expect(req.messages[0].content).toContain("user: Capital of France?");
    expect(req.messages[0].content).toContain("Latest assistant reply:\nParis.");
    // user messages are not judged
    const user = await env.step({ role: "user", content: "And Spain?" });
    expect(user.reward).toBeUndefined();
    expect(llm.requests.length).toBe(before + 1);
    const bad = await env.step({ role: "assistant", content: "Lisbon." });
    expect(bad.reward).toBeCloseTo(0.1);
    expect(bad.observation.judgeFeedback).toBe("wrong capital");
  });

  it("a judge that times out gives the default score and says why, and the session goes on", async () => {
    await using env = await connect(judged);
    await env.reset();
    const r = await env.step({ role: "assistant", content: "SLOW answer" });
    expect(r.reward).toBe(0);
    expect(r.metadata.judge_error).toBe("the judge did not answer within 300 ms");
    const next = await env.step({ role: "assistant", content: "Paris" });
    expect(next.reward).toBeCloseTo(0.9);
  });

  it("rejects bad roles and options", async () => {
    await using env = await connect(plain);
    await env.reset();
    await expectConnectError(
      env.step({ role: "robot", content: "x" }),
      Code.InvalidArgument,
      /role: value must be one of 'system', 'user'/,
    );
    await expectConnectError(env.step({ role: "", content: "x" }), Code.InvalidArgument, /role: value is required/);
    await expectConnectError(
      env.reset({ options: { max_turns: 0 } }),
      Code.InvalidArgument,
      /max_turns: value must be greater than or equal to 1/,
    );
    await expectConnectError(
      env.reset({ options: { messages: [{ role: "bot", content: "x" }] } }),
      Code.InvalidArgument,
      /messages\[0\]\.role/,
    );
    expect((await env.step({ role: "user", content: "still here" })).observation.turn).toBe(1);
  });
});
