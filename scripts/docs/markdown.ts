import { readFileSync } from "node:fs";

/** A fenced code block of a Markdown file. */
export interface CodeBlock {
  /** The file, as given. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The fence's info string's first word (`ts`, `sh`, `python`, ...), lower case; "" when none. */
  readonly lang: string;
  readonly code: string;
  /** The `<!-- docs-test: ... -->` directive just above the fence (blank lines allowed), without the markers. */
  readonly directive: string | undefined;
}

const directivePattern = /^<!--\s*docs-test:\s*([\s\S]*?)\s*-->\s*$/;

/** The fenced code blocks of a Markdown text, in order. Indented fences (inside list items) count too. */
export function codeBlocks(file: string, text = readFileSync(file, "utf8")): CodeBlock[] {
  const lines = text.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]!);
    if (open === null) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j]!;
      if (l.trim().startsWith(fence) && l.trim().replace(/[`~]/g, "") === "") break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === "") k--;
    const directive = k >= 0 ? directivePattern.exec(lines[k]!.trim())?.[1] : undefined;
    blocks.push({ file, line: i + 1, lang: info.toLowerCase(), code: `${body.join("\n")}\n`, directive });
    i = j;
  }
  return blocks;
}

/** The text of a section: from its heading line to the next heading of the same or a higher level. */
export function section(text: string, heading: string): string | undefined {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) return undefined;
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  let end = start + 1;
  for (; end < lines.length; end++) {
    const m = /^(#+)\s/.exec(lines[end]!);
    if (m !== null && m[1]!.length <= level) break;
  }
  return lines.slice(start, end).join("\n");
}
