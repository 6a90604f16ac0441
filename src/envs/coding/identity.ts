import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { killUntilGone, processesOfUid, runnableByOthers, type SandboxIdentity } from "../../server/sandbox/identity.js";

/**
 * Kills every process of an exclusive uid: `kill(-1, SIGKILL)` run as that
 * uid (atomic with respect to fork, so a fork bomb cannot outrun it), then
 * a check of the process table for stragglers.
 */
export async function killAllOfUid(python: string, identity: SandboxIdentity): Promise<void> {
  if (!identity.exclusive) return;
  await new Promise<void>((resolve) => {
    const child = spawn(python, ["-S", "-c", "import os, signal\ntry:\n os.kill(-1, signal.SIGKILL)\nexcept OSError:\n pass"], {
      uid: identity.uid,
      gid: identity.gid,
      stdio: "ignore",
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      cwd: "/",
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("error", () => {
      clearTimeout(timer);
      resolve();
    });
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await killUntilGone(() => processesOfUid(identity.uid), 20);
}

/**
 * Finds the Python interpreter: `python` as given when it contains a slash,
 * else the first match on PATH. When the interpreter will run as another
 * (unprivileged) user, PATH entries that user cannot run are skipped, e.g. a
 * pyenv shim under a root-only home directory.
 */
export function resolvePython(python: string, forOtherUser: boolean): string {
  if (python.includes("/")) {
    if (forOtherUser && !runnableByOthers(python)) {
      throw new Error(`the sandbox user cannot run ${python} (it needs o+x on its directories and o+rx on the file)`);
    }
    return python;
  }
  const dirs = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(path.delimiter).filter((d) => d !== "");
  const skipped: string[] = [];
  for (const dir of dirs) {
    const candidate = path.join(dir, python);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
    } catch {
      continue;
    }
    if (forOtherUser && !runnableByOthers(candidate)) {
      skipped.push(candidate);
      continue;
    }
    return candidate;
  }
  const hint = skipped.length > 0 ? ` (skipped, not runnable by the unprivileged sandbox user: ${skipped.join(", ")})` : "";
  throw new Error(`no '${python}' found on PATH${hint}; set the coding environment's python option`);
}
