/**
 * Environment names: normalisation (`coding`, `coding-env`, `coding_env`,
 * `coding-env:latest` and `openenv-coding` are one environment), telling names,
 * Hub ids, URLs and paths apart, and OpenEnv's typo suggestions.
 */

/** What a `fromEnv` argument names. */
export type EnvReference =
  | { readonly kind: "name"; readonly key: string; readonly raw: string }
  | { readonly kind: "hub"; readonly repoId: string; readonly raw: string }
  | { readonly kind: "url"; readonly url: string; readonly raw: string }
  | { readonly kind: "path"; readonly path: string; readonly raw: string };

const hubIdPattern = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;

/**
 * The lookup key of an environment name: lower case, `-` → `_`, without a
 * `:tag`, a leading `openenv-` or a trailing `_env`. `"coding-env:latest"` → `"coding"`.
 */
export function normalizeEnvName(raw: string): string {
  const name = envNameForm(raw);
  return name.endsWith("_env") && name.length > "_env".length ? name.slice(0, -"_env".length) : name;
}

/**
 * A name in the form names take, keeping a trailing `_env`: lower case, `-` → `_`,
 * without a `:tag` or a leading `openenv-`. `"My-Env:latest"` → `"my_env"`.
 */
export function envNameForm(raw: string): string {
  let name = raw.trim().toLowerCase();
  const colon = name.indexOf(":");
  if (colon >= 0) name = name.slice(0, colon);
  name = name.replace(/-/g, "_");
  if (name.startsWith("openenv_") && name.length > "openenv_".length) name = name.slice("openenv_".length);
  return name;
}

/** PascalCase of a key's `_`-separated parts: `"my_game"` → `"MyGame"`. */
export function pascalCase(key: string): string {
  return key
    .split(/[_-]/)
    .filter((p) => p !== "")
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join("");
}

/**
 * Classifies what the caller named: a URL (`http(s)://…`, connect only), a
 * Hugging Face Hub id (`user/env`, or a `huggingface.co/spaces/…` URL), a local
 * path (`./dir`, `/abs`, `../dir`), or an environment name.
 */
export function parseEnvReference(raw: string): EnvReference {
  const text = raw.trim();
  const hf = /^(?:https?:\/\/)?(?:www\.)?huggingface\.co\/spaces\/([^/\s]+\/[^/\s?#]+)/.exec(text);
  if (hf !== null) return { kind: "hub", repoId: hf[1]!.replace(/\.git$/, ""), raw };
  if (/^https?:\/\//i.test(text)) return { kind: "url", url: text.replace(/\/+$/, ""), raw };
  if (text.startsWith(".") || text.startsWith("/") || text.startsWith("~")) return { kind: "path", path: text, raw };
  const withoutTag = text.replace(/:[\w.-]+$/, "");
  if (hubIdPattern.test(withoutTag)) return { kind: "hub", repoId: withoutTag, raw };
  return { kind: "name", key: normalizeEnvName(text), raw };
}

/** The URL of a Hub Space: `user/my_env` → `https://user-my-env.hf.space` (Spaces' subdomain rules). */
export function hubSpaceUrl(repoId: string): string {
  const host = repoId.toLowerCase().replace("/", "-").replace(/[_.]/g, "-");
  return `https://${host}.hf.space`;
}

/**
 * The git URL npm installs a Space's package from: `git+<hub>/spaces/<repoId>`.
 * `hubUrl` defaults to `https://huggingface.co`; a `file://` base serves tests and mirrors.
 */
export function hubGitUrl(repoId: string, hubUrl = "https://huggingface.co"): string {
  return `git+${hubUrl.replace(/\/+$/, "")}/spaces/${repoId}`;
}

/** The Space's page, shown in the install warning. */
export function hubSourceUrl(repoId: string, hubUrl = "https://huggingface.co"): string {
  return `${hubUrl.replace(/\/+$/, "")}/spaces/${repoId}`;
}

/**
 * Python's `difflib.get_close_matches(word, possibilities, n, cutoff)`: the
 * candidates whose Ratcliff–Obershelp similarity to `word` is at least
 * `cutoff`, best first (ties: reverse alphabetical, as Python's heap does).
 */
export function closeMatches(word: string, possibilities: Iterable<string>, n = 3, cutoff = 0.6): string[] {
  const scored: Array<[number, string]> = [];
  for (const x of possibilities) {
    const score = similarity(x, word);
    if (score >= cutoff) scored.push([score, x]);
  }
  scored.sort((p, q) => (q[0] !== p[0] ? q[0] - p[0] : q[1] < p[1] ? -1 : q[1] > p[1] ? 1 : 0));
  return scored.slice(0, n).map(([, x]) => x);
}

/** `difflib.SequenceMatcher(None, a, b).ratio()`: 2·matches / (|a| + |b|). */
export function similarity(a: string, b: string): number {
  const total = a.length + b.length;
  return total === 0 ? 1 : (2 * matchedCharacters(a, b)) / total;
}

function matchedCharacters(a: string, b: string): number {
  const positions = new Map<string, number[]>();
  for (let j = 0; j < b.length; j++) {
    const list = positions.get(b[j]!);
    if (list === undefined) positions.set(b[j]!, [j]);
    else list.push(j);
  }
  let matched = 0;
  const queue: Array<[number, number, number, number]> = [[0, a.length, 0, b.length]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    const [i, j, k] = longestMatch(a, positions, alo, ahi, blo, bhi);
    if (k === 0) continue;
    matched += k;
    if (alo < i && blo < j) queue.push([alo, i, blo, j]);
    if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
  }
  return matched;
}

// SequenceMatcher.find_longest_match without junk: the longest common block,
// earliest in `a`, then earliest in `b`.
function longestMatch(
  a: string,
  positions: Map<string, number[]>,
  alo: number,
  ahi: number,
  blo: number,
  bhi: number,
): [number, number, number] {
  let besti = alo;
  let bestj = blo;
  let bestsize = 0;
  let lengths = new Map<number, number>();
  for (let i = alo; i < ahi; i++) {
    const next = new Map<number, number>();
    for (const j of positions.get(a[i]!) ?? []) {
      if (j < blo) continue;
      if (j >= bhi) break;
      const k = (lengths.get(j - 1) ?? 0) + 1;
      next.set(j, k);
      if (k > bestsize) {
        besti = i - k + 1;
        bestj = j - k + 1;
        bestsize = k;
      }
    }
    lengths = next;
  }
  return [besti, bestj, bestsize];
}

/**
 * OpenEnv's message for an unknown name, line for line:
 * `Unknown environment 'x'.`, `Did you mean: a, b?` (when any are close), and
 * `Available environments: …` (sorted).
 */
export function unknownEnvironmentMessage(key: string, available: readonly string[], api = "AutoEnv.fromEnv"): string {
  if (available.length === 0) {
    return [
      "No OpenEnv environments found.",
      "Install an environment with: npm install openenv-<env-name>",
      `Or specify a Hugging Face Hub repository: ${api}('openenv/echo_env')`,
    ].join("\n");
  }
  const sorted = [...available].sort();
  const suggestions = closeMatches(key, sorted);
  const lines = [`Unknown environment '${key}'.`];
  if (suggestions.length > 0) lines.push(`Did you mean: ${suggestions.join(", ")}?`);
  lines.push(`Available environments: ${sorted.join(", ")}`);
  return lines.join("\n");
}

/** Thrown for a name no discovered environment has; the message is OpenEnv's. */
export class UnknownEnvironmentError extends Error {
  override readonly name = "UnknownEnvironmentError";
  /** Close names, best first. */
  readonly suggestions: readonly string[];

  constructor(
    /** The normalised name that was asked for. */
    readonly key: string,
    /** Every available environment key, sorted. */
    readonly available: readonly string[],
    api?: string,
  ) {
    super(unknownEnvironmentMessage(key, available, api));
    this.suggestions = available.length === 0 ? [] : closeMatches(key, [...available].sort());
  }
}
