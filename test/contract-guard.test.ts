import { execFile } from "node:child_process";
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

// The contract guard of .ci/run, proven on scratch copies of proto/: `buf breaking`
// against the committed baseline image, and `buf lint` (STANDARD + COMMENTS).
const run = promisify(execFile);
const repo = join(import.meta.dirname, "..");
const buf = join(repo, "node_modules", ".bin", "buf");
const baseline = join(repo, "proto", "baseline", "contract.binpb");
const scratchDirs: string[] = [];

afterEach(async () => {
  await Promise.all(scratchDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A copy of the buf module (buf.yaml + proto/) to edit. */
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "openenv-contract-"));
  scratchDirs.push(dir);
  await cp(join(repo, "buf.yaml"), join(dir, "buf.yaml"));
  await cp(join(repo, "proto"), join(dir, "proto"), { recursive: true });
  return dir;
}

async function edit(file: string, from: string, to: string): Promise<void> {
  const text = await readFile(file, "utf8");
  expect(text).toContain(from);
  await writeFile(file, text.replace(from, to));
}

async function bufIn(dir: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(buf, args, { cwd: dir });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

const service = "proto/openenv/v1/environment_service.proto";

describe("buf breaking against the committed baseline", () => {
  it("passes for the current contract", async () => {
    const result = await bufIn(repo, ["breaking", "--against", baseline]);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });

  it("fails when a field changes type", async () => {
    const dir = await scratch();
    await edit(join(dir, service), "  optional double reward = 2;", "  optional float reward = 2;");
    const result = await bufIn(dir, ["breaking", "--against", baseline]);
    expect(result.code).toBe(100);
    expect(result.output).toContain('Field "2" with name "reward" on message "StepResult" changed type from "double" to "float"');
  });

  it("fails when an environment's message loses a field", async () => {
    const dir = await scratch();
    const echo = join(dir, "proto/openenv/envs/echo/v1/echo.proto");
    await edit(echo, "  // Length of the message in characters.\n  int32 message_length = 2;\n", "");
    const result = await bufIn(dir, ["breaking", "--against", baseline]);
    expect(result.code).toBe(100);
    expect(result.output).toContain('Previously present field "2" with name "message_length" on message "EchoObservation" was deleted');
  });

  it("passes for additions: a new field, or the next package version next to v1", async () => {
    const dir = await scratch();
    await edit(
      join(dir, service),
      "  // The current episode id.\n  string episode_id = 9;\n",
      "  // The current episode id.\n  string episode_id = 9;\n  // A new field.\n  string note = 10;\n",
    );
    const v2 = join(dir, "proto/openenv/v2");
    await cp(join(dir, "proto/openenv/v1"), v2, { recursive: true });
    for (const name of (await readdir(v2)).filter((n) => n.endsWith(".proto"))) {
      const file = join(v2, name);
      await writeFile(
        file,
        (await readFile(file, "utf8"))
          .replace("package openenv.v1;", "package openenv.v2;")
          .replaceAll('import "openenv/v1/', 'import "openenv/v2/')
          .replaceAll("(openenv.v1.rules)", "(openenv.v2.rules)")
          .replace("51730", "51731"),
      );
    }
    const result = await bufIn(dir, ["breaking", "--against", baseline]);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });
});

describe("buf lint", () => {
  it("fails on an undocumented field", async () => {
    const dir = await scratch();
    await edit(join(dir, service), "  string episode_id = 9;\n", "  string episode_id = 9;\n  string undocumented = 10;\n");
    const result = await bufIn(dir, ["lint"]);
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('Field "undocumented" should have a non-empty comment for documentation.');
  });

  it("passes for the committed protos", async () => {
    const result = await bufIn(repo, ["lint"]);
    expect(result.output).toBe("");
    expect(result.code).toBe(0);
  });
});
