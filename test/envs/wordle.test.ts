import { toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LetterFeedback, WordleObservationSchema } from "../../gen/openenv/envs/wordle/v1/wordle_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { WordleEnvironment, wordleSpec } from "../../src/envs/wordle/environment.js";
import { patternOf, scoreGuess } from "../../src/envs/wordle/feedback.js";
import { WORDS } from "../../src/envs/wordle/words.js";
import { type EnvironmentServer, serve } from "../../src/server/serve.js";
import { expectConnectError } from "./helpers.js";

let server: EnvironmentServer;
beforeAll(async () => {
  server = await serve(WordleEnvironment, { port: 0 });
});
afterAll(async () => {
  await server.close();
});

const connect = () => EnvClient.connect({ baseUrl: server.url, spec: wordleSpec });

describe("wordle feedback", () => {
  it.each([
    ["paper", "apple", "YYGY-"],
    ["llama", "label", "GYY--"],
    ["speed", "abide", "--Y-Y"], // one 'e' in the secret: only the first of the guess's e's counts
    ["eerie", "there", "Y-Y-G"], // the exact match takes one 'e', the first guessed 'e' the other
    ["crane", "crane", "GGGGG"],
  ])("scores %s against %s as %s", (guess, secret, pattern) => {
    expect(patternOf(scoreGuess(guess, secret))).toBe(pattern);
  });

  it("ships a few hundred unique five-letter words", () => {
    expect(WORDS.length).toBeGreaterThanOrEqual(300);
    expect(new Set(WORDS).size).toBe(WORDS.length);
    for (const w of WORDS) expect(w).toMatch(/^[a-z]{5}$/);
  });
});

describe("wordle over a real server", () => {
  it("gives per-letter feedback and terminates on solve with reward 1", async () => {
    await using env = await connect();
    const first = await env.reset({ seed: 1, options: { secret: "apple" } });
    expect(first.observation.guessesRemaining).toBe(6);
    expect(first.observation.secret).toBe("");
    const r = await env.step({ guess: "PAPER" });
    const g = r.observation.guesses[0];
    expect(g.guess).toBe("paper");
    expect(g.pattern).toBe("YYGY-");
    expect(g.letters).toEqual([
      LetterFeedback.PRESENT,
      LetterFeedback.PRESENT,
      LetterFeedback.CORRECT,
      LetterFeedback.PRESENT,
      LetterFeedback.ABSENT,
    ]);
    expect(r.observation.guessesRemaining).toBe(5);
    expect(r.observation.secret).toBe("");
    expect(r.done).toBe(false);
    expect(r.reward).toBeCloseTo((0.2 * (1 + 3 * 0.5)) / 5);
    expect(r.rewardComponents).toEqual({ solved: 0, letters: 0.5 });
    const win = await env.step({ guess: "apple" });
    expect(win.terminated).toBe(true);
    expect(win.truncated).toBe(false);
    expect(win.observation.solved).toBe(true);
    expect(win.observation.secret).toBe("apple");
    expect(win.reward).toBe(1);
    expect(win.observation.render).toBe("PAPER YYGY-\nAPPLE GGGGG\nsolved\n");
    await expectConnectError(env.step({ guess: "apple" }), Code.FailedPrecondition, /is over/);
  });

  it("truncates after the guess limit and reveals the word", async () => {
    await using env = await connect();
    await env.reset({ seed: 4, options: { secret: "zebra", max_guesses: 3 } });
    await env.step({ guess: "about" });
    await env.step({ guess: "above" });
    const last = await env.step({ guess: "crane" });
    expect(last.truncated).toBe(true);
    expect(last.terminated).toBe(false);
    expect(last.observation.guessesRemaining).toBe(0);
    expect(last.observation.secret).toBe("zebra");
    expect(last.observation.render.endsWith("the word was ZEBRA\n")).toBe(true);
    expect((await env.state()).guesses.map((g) => g.guess)).toEqual(["about", "above", "crane"]);
  });

  it("draws the secret from the word list by seed: same seed, same game", async () => {
    const play = async (seed: number) => {
      await using env = await connect();
      const out = [toBinary(WordleObservationSchema, (await env.reset({ seed })).observation)];
      let secret = "";
      for (const guess of ["crane", "sloth", "pudgy", "baker", "women", "fifth"]) {
        const r = await env.step({ guess });
        out.push(toBinary(WordleObservationSchema, r.observation));
        secret = r.observation.secret;
        if (r.done) break;
      }
      return { out, secret };
    };
    const a = await play(2024);
    const b = await play(2024);
    expect(b.out).toEqual(a.out);
    expect(WORDS).toContain(a.secret);
    const secrets = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5]) secrets.add((await play(seed)).secret);
    expect(secrets.size).toBeGreaterThan(1);
  });

  it("rejects malformed guesses, and unknown words when asked to", async () => {
    await using env = await connect();
    await env.reset({ seed: 1 });
    await expectConnectError(env.step({ guess: "abc" }), Code.InvalidArgument, /guess: value must match the pattern/);
    await expectConnectError(env.step({ guess: "ab1de" }), Code.InvalidArgument, /guess: value must match the pattern/);
    await expectConnectError(env.step({ guess: "" }), Code.InvalidArgument, /guess: value is required/);
    expect((await env.step({ guess: "qzxvj" })).observation.guessesRemaining).toBe(5); // any five letters by default
    await env.reset({ seed: 1, options: { require_known_words: true } });
    await expectConnectError(env.step({ guess: "qzxvj" }), Code.InvalidArgument, /guess: 'qzxvj' is not in the word list/);
    expect((await env.step({ guess: "bread" })).observation.guessesRemaining).toBe(5);
    await expectConnectError(env.reset({ options: { secret: "toolong" } }), Code.InvalidArgument, /secret: value must match the pattern/);
    await expectConnectError(
      env.reset({ options: { max_guesses: 0 } }),
      Code.InvalidArgument,
      /max_guesses: value must be greater than or equal to 1/,
    );
  });
});
