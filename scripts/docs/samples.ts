import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { type CodeBlock, codeBlocks } from "./markdown.js";

/**
 * The samples of the documentation (README.md and docs/*.md) and what the docs
 * job does with each. A directive just above a fence changes it:
 *
 *   <!-- docs-test: skip: REASON -->   not run here, and why (a reason is required)
 *   <!-- docs-test: checkout -->       a shell block run in the repository checkout
 *                                      (default: in an empty project that installed the tarball)
 *   <!-- docs-test: judge -->          a TypeScript sample run with OPENENV_JUDGE_* pointing at
 *                                      a stand-in OpenAI-compatible endpoint
 *   <!-- docs-test: file: NAME -->     a block that is a file the next samples use (a browser script,
 *                                      a config): written as NAME into the project that installed the
 *                                      tarball, where the samples run; JavaScript is syntax-checked
 *
 * Directives combine with ";" (`skip:` last: its reason runs to the end). Blocks in data languages (yaml, json, text, no
 * language) are shown, not run; code in other languages (Go) must carry a `skip:` reason.
 */

export type SampleKind = "ts" | "sh" | "python" | "file";

/** One runnable (or skipped) sample. */
export interface Sample extends CodeBlock {
  readonly kind: SampleKind;
  /** Why it is not run; undefined when it runs. */
  readonly skip: string | undefined;
  /** Shell blocks: run in the checkout rather than the consumer project. */
  readonly checkout: boolean;
  /** TypeScript: start the stand-in LLM judge. */
  readonly judge: boolean;
  /** Kind `file`: the name it is written as, relative to the project the samples run in. */
  readonly fileName?: string;
  /** `README.md:33`. */
  readonly where: string;
}

const kinds: Readonly<Record<string, SampleKind>> = {
  ts: "ts",
  typescript: "ts",
  sh: "sh",
  bash: "sh",
  shell: "sh",
  python: "python",
  py: "python",
};

/** Languages of blocks that are data or output, never run. */
const shownOnly = new Set(["", "text", "yaml", "yml", "json", "proto", "toml"]);

/** The documentation files: README.md, then docs/*.md in name order. */
export function docFiles(repo: string): string[] {
  const docs = readdirSync(join(repo, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => join(repo, "docs", f));
  return [join(repo, "README.md"), ...docs];
}

/** Every sample of the documentation, in order; throws on a block it cannot classify (so nothing is skipped silently). */
export function collectSamples(repo: string, files: readonly string[] = docFiles(repo)): Sample[] {
  const samples: Sample[] = [];
  const problems: string[] = [];
  for (const file of files) {
    for (const block of codeBlocks(file)) {
      const where = `${relative(repo, block.file)}:${block.line}`;
      const fileName = /^file:\s*(\S+)\s*$/.exec(block.directive ?? "")?.[1];
      if (fileName !== undefined) {
        if (fileName.startsWith("/") || fileName.split("/").includes(".."))
          problems.push(`${where}: 'file' names a path outside the project`);
        samples.push({ ...block, kind: "file", skip: undefined, checkout: false, judge: false, fileName, where });
        continue;
      }
      const kind = kinds[block.lang];
      if (kind === undefined) {
        // Code in another language (Go, ...) is not run here: it must say why.
        const reason = /^skip:\s*(\S.*)$/s.exec(block.directive ?? "")?.[1];
        if (shownOnly.has(block.lang)) {
          if (block.directive !== undefined)
            problems.push(`${where}: a directive on a \`${block.lang || "plain"}\` block, which is never run`);
        } else if (reason === undefined) {
          problems.push(`${where}: a \`${block.lang}\` block needs <!-- docs-test: skip: REASON --> (only ts, sh and python run)`);
        }
        continue;
      }
      let skip: string | undefined;
      let checkout = false;
      let judge = false;
      // `skip: REASON` comes last and takes the rest, which may contain ";".
      const [flags = "", reason] = (block.directive ?? "").split(/(?:^|;)\s*skip:/, 2);
      if (reason !== undefined) {
        if (reason.trim() === "") problems.push(`${where}: 'skip' needs a reason`);
        skip = reason.trim();
      }
      for (const part of flags.split(";").map((p) => p.trim())) {
        if (part === "") continue;
        if (part === "checkout" && kind !== "ts") {
          checkout = true;
        } else if (part === "judge" && kind === "ts") {
          judge = true;
        } else {
          problems.push(`${where}: unknown directive '${part}' for a ${kind} block`);
        }
      }
      samples.push({ ...block, kind, skip, checkout, judge, where });
    }
  }
  if (problems.length > 0) throw new Error(`documentation samples:\n  ${problems.join("\n  ")}`);
  return samples;
}

/** The file name a TypeScript sample is compiled from: `samples/README-33.ts`. */
export function sampleFile(sample: Sample): string {
  return `samples/${sample.where.replace(/\.md:/, "-").replace(/[^\w.-]/g, "_")}.ts`;
}

/** The ports documentation examples use: 8000 for a server, 8001 and 8002 for more (an upstream and its gateway). */
export const docPorts = [8000, 8001, 8002] as const;

/** Documentation examples use fixed ports ({@link docPorts}); the docs job gives each document free ones instead. */
export function withPorts(code: string, ports: ReadonlyMap<number, number>): string {
  let out = code;
  for (const [doc, free] of ports) {
    out = out
      .replace(new RegExp(`\\b(127\\.0\\.0\\.1|localhost):${doc}\\b`, "g"), `$1:${free}`)
      .replace(new RegExp(`--port ${doc}\\b`, "g"), `--port ${free}`)
      .replace(new RegExp(`\\bport: ${doc}\\b`, "g"), `port: ${free}`);
  }
  return out;
}
