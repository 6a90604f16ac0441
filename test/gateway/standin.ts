import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Debian's interpreter: a pyenv python3 earlier on PATH does not see Debian's dist-packages. */
export const PYTHON = "/usr/bin/python3";
const SCRIPT = fileURLToPath(new URL("../compat/openenv_standin.py", import.meta.url));

/** True when python3-websockets is installed (CI installs it; elsewhere the tests that need it skip). */
export const standinAvailable = spawnSync(PYTHON, ["-c", "import websockets"]).status === 0;
/** Skip only outside CI: in CI a missing package must fail loudly. */
export const skipStandin = !standinAvailable && process.env.CI === undefined;

/** A running Python stand-in of an OpenEnv server (test/compat/openenv_standin.py). */
export interface Standin extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`; environments are at `${url}/envs/<name>`, echo also at the root. */
  readonly url: string;
  readonly process: ChildProcess;
  /** Kills the server (SIGKILL: connections die without a close frame). */
  kill(): Promise<void>;
}

export async function startStandin(options: { maxSessions?: number } = {}): Promise<Standin> {
  const child = spawn(PYTHON, [SCRIPT, "--port", "0", "--max-sessions", String(options.maxSessions ?? 16)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening (http:\/\/[^\s]+)/.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`the stand-in exited with ${code}: ${stderr}`)));
  });
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  };
  return { url, process: child, kill, [Symbol.asyncDispose]: kill };
}
