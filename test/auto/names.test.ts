import { describe, expect, it } from "vitest";
import {
  closeMatches,
  hubGitUrl,
  hubSpaceUrl,
  normalizeEnvName,
  parseEnvReference,
  similarity,
  UnknownEnvironmentError,
  unknownEnvironmentMessage,
} from "../../src/auto/names.js";

describe("name normalisation", () => {
  it.each(["coding", "coding-env", "coding_env", "coding-env:latest", "Coding_Env", "openenv-coding", "openenv-coding-env", " coding "])(
    "%j is the environment 'coding'",
    (raw) => {
      expect(normalizeEnvName(raw)).toBe("coding");
    },
  );

  it("keeps inner underscores and hyphens as one form", () => {
    expect(normalizeEnvName("grid-world")).toBe("grid_world");
    expect(normalizeEnvName("grid_world_env")).toBe("grid_world");
    expect(normalizeEnvName("connect4")).toBe("connect4");
  });

  it("does not strip a name down to nothing", () => {
    expect(normalizeEnvName("env")).toBe("env");
    expect(normalizeEnvName("_env")).toBe("_env");
  });
});

describe("references", () => {
  it("tells names, Hub ids, URLs and paths apart", () => {
    expect(parseEnvReference("echo")).toMatchObject({ kind: "name", key: "echo" });
    expect(parseEnvReference("echo-env:latest")).toMatchObject({ kind: "name", key: "echo" });
    expect(parseEnvReference("meta-pytorch/coding-env")).toMatchObject({ kind: "hub", repoId: "meta-pytorch/coding-env" });
    expect(parseEnvReference("user/env:v2")).toMatchObject({ kind: "hub", repoId: "user/env" });
    expect(parseEnvReference("https://huggingface.co/spaces/user/my_env")).toMatchObject({ kind: "hub", repoId: "user/my_env" });
    expect(parseEnvReference("http://127.0.0.1:8000/")).toMatchObject({ kind: "url", url: "http://127.0.0.1:8000" });
    expect(parseEnvReference("./my-env")).toMatchObject({ kind: "path", path: "./my-env" });
    expect(parseEnvReference("/abs/env")).toMatchObject({ kind: "path" });
  });

  it("maps a Hub id to its Space URL and git URL", () => {
    expect(hubSpaceUrl("user/env")).toBe("https://user-env.hf.space");
    expect(hubSpaceUrl("Meta-PyTorch/coding_env")).toBe("https://meta-pytorch-coding-env.hf.space");
    expect(hubGitUrl("user/env")).toBe("git+https://huggingface.co/spaces/user/env");
    expect(hubGitUrl("user/env", "file:///srv/hub/")).toBe("git+file:///srv/hub/spaces/user/env");
  });
});

describe("typo suggestions (difflib.get_close_matches)", () => {
  const envs = ["atari", "browsergym", "chat", "coding", "connect4", "echo", "maze", "wordle"];

  it("scores like SequenceMatcher.ratio", () => {
    // Values computed with Python's difflib.SequenceMatcher(None, a, b).ratio().
    expect(similarity("coding", "cooding")).toBeCloseTo(12 / 13, 10);
    expect(similarity("echo", "ehco")).toBeCloseTo(0.75, 10);
    expect(similarity("abc", "xyz")).toBe(0);
    expect(similarity("", "")).toBe(1);
  });

  it("suggests close names, best first, cut at 0.6", () => {
    expect(closeMatches("cooding", envs)).toEqual(["coding"]);
    expect(closeMatches("ech", envs)).toEqual(["echo"]);
    expect(closeMatches("mase", envs)).toEqual(["maze"]);
    expect(closeMatches("zzz", envs)).toEqual([]);
  });

  it("builds OpenEnv's message line for line", () => {
    expect(unknownEnvironmentMessage("cooding", envs)).toBe(
      "Unknown environment 'cooding'.\nDid you mean: coding?\nAvailable environments: atari, browsergym, chat, coding, connect4, echo, maze, wordle",
    );
    expect(unknownEnvironmentMessage("nonexistent", ["echo", "chat"])).toBe(
      "Unknown environment 'nonexistent'.\nAvailable environments: chat, echo",
    );
    expect(unknownEnvironmentMessage("x", [])).toBe(
      "No OpenEnv environments found.\nInstall an environment with: npm install openenv-<env-name>\nOr specify a Hugging Face Hub repository: AutoEnv.fromEnv('openenv/echo_env')",
    );
    const err = new UnknownEnvironmentError("cooding", envs);
    expect(err.suggestions).toEqual(["coding"]);
    expect(err.message.split("\n")[1]).toBe("Did you mean: coding?");
  });
});
