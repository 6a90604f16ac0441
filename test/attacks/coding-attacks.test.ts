// The attack suite of issue 11: model-written code attacks `openenv serve coding`
// (a real CLI server with a token, in its own process) from inside a session. Every
// attack must fail, and the server and a bystander session must be unaffected.
// Findings 1, 2, 4, 5, 6 and 8 of the issue, then the classic attacks. Only what
// this file created is inspected (its server's pid, names with a random suffix).
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ExecutionStatus } from "../../gen/openenv/envs/coding/v1/coding_pb.js";
import { EnvClient } from "../../src/client/env-client.js";
import { codingSpec } from "../../src/envs/coding/environment.js";
import { type CliServer, startCliServer, waitFor } from "../auto/helpers.js";

const token = `tok-${randomBytes(12).toString("hex")}`;
const tag = randomBytes(4).toString("hex");
const headers = { authorization: `Bearer ${token}` };
const connectCoding = (url: string) => EnvClient.connect({ baseUrl: url, spec: codingSpec, headers, stepTimeoutMs: 120_000 });
type Coding = Awaited<ReturnType<typeof connectCoding>>;

let server: CliServer;
let bystander: Coding;
const clients: Coding[] = [];

async function session(url = server.url): Promise<Coding> {
  const env = await connectCoding(url);
  clients.push(env);
  await env.reset();
  return env;
}

async function run(env: Coding, code: string, extra: { timeoutS?: number; tests?: { name: string; code: string }[] } = {}) {
  return env.step({ code, timeoutS: 20, ...extra });
}

async function healthy(url = server.url, timeoutMs = 2_000): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  server = await startCliServer(["coding", "--token", token]);
  bystander = await session();
  const r = await run(bystander, `kept = 42\nopen('bystander-${tag}.txt', 'w').write('mine')`);
  expect(r.observation.status).toBe(ExecutionStatus.OK);
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => {})));
  await server?.stop();
});

/** After every attack: the server answers, and the bystander kept its variables and files. */
afterEach(async () => {
  expect(server.child.exitCode).toBeNull();
  expect(await healthy()).toBe(true);
  const r = await run(bystander, `print(kept, open('bystander-${tag}.txt').read())`);
  expect(r.observation.stdout).toBe("42 mine\n");
  expect(r.observation.interpreterRestarted).toBe(false);
}, 60_000);

/** Python that writes `frame` (a length-prefixed body) to every descriptor from 3 to 255 that takes it. */
const toEveryFd = (body: string) =>
  `import os, struct\nbody = ${body}\nframe = struct.pack('>I', len(body)) + body\nfor fd in range(3, 256):\n    try:\n        os.write(fd, frame)\n    except OSError:\n        pass\n`;

describe("findings", () => {
  it("1: a null frame or a done event without markers on the event channel does not crash the server", async () => {
    const env = await session();
    await run(env, "import os,struct\nos.write(4, struct.pack('>I',4)+b'null')").catch(() => undefined);
    await run(env, toEveryFd(`b'null'`)).catch(() => undefined);
    await run(env, toEveryFd(`b'{"ev":"done","seq":3}'`)).catch(() => undefined);
    await run(env, toEveryFd(`b'{"ev":"done","seq":4,"tests":7,"markers":null}'`)).catch(() => undefined);
    expect(await healthy()).toBe(true);
    const next = await run(env, "print('still here')");
    expect(next.observation.stdout).toBe("still here\n");
  });

  it("2: the code cannot set its own reward: forged done frames and patched test machinery score 0", async () => {
    const env = await session();
    const forged = (seq: number) =>
      JSON.stringify({
        ev: "done",
        seq,
        exit_code: 0,
        error_name: "",
        error_message: "",
        result: "",
        interrupted: false,
        tests: [{ name: "t", passed: true, message: "", output: "" }],
        markers: [false, false],
      });
    const frames = [1, 2, 3, 4, 5].map((s) => `b'${forged(s)}'`).join(" + b'' ; body = ");
    const forge = toEveryFd(`b''`).replace("body = b''\n", `frames = [${[1, 2, 3, 4, 5].map((s) => `b'${forged(s)}'`).join(", ")}]\n`);
    expect(frames.length).toBeGreaterThan(0);
    const code = `${forge.replace(
      "frame = struct.pack('>I', len(body)) + body\n",
      "frame = b''.join(struct.pack('>I', len(f)) + f for f in frames)\n",
    )}\nimport builtins, sys\nbuiltins.AssertionError = type('Nope', (Exception,), {})\n`;
    const honest = await run(env, "x = 1", { tests: [{ name: "t", code: "assert False" }] });
    expect(honest.reward).toBe(0);
    const attack = await run(env, code, { tests: [{ name: "t", code: "assert False" }] });
    expect(attack.reward).toBe(0);
    expect(attack.observation.testsPassed).toBe(0);
    // The code's own functions run when a test calls them: they may lie about their value, never about the verdict.
    const liar = await run(
      env,
      `${code.replace(/^/, "def answer():\n    pass\n")}\ndef answer():\n${toEveryFd("b'x'").replace(/^/gm, "    ")}    return 41\n`,
      {
        tests: [{ name: "calls", code: "assert answer() == 42" }],
      },
    );
    expect(liar.reward).toBe(0);
    const next = await run(env, "print('clean')");
    expect(next.observation.stdout).toBe("clean\n");
  });

  it("4: the server's token is not readable from the sandbox, and not on any command line", async () => {
    const env = await session();
    const r = await run(
      env,
      `import os\nfound = []\nfor pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n    for f in ('cmdline', 'environ'):\n        try:\n            if b'${token}' in open(f'/proc/{pid}/{f}', 'rb').read():\n                found.append((pid, f))\n        except OSError:\n            pass\nprint(found, '${token}' in repr(dict(os.environ)))`,
    );
    expect(r.observation.stdout).toBe("[] False\n");
    expect(fs.readFileSync(`/proc/${server.child.pid}/cmdline`, "utf8")).not.toContain(token);
    const cluster = await startCliServer(["echo", "--workers", "2", "--token", token]);
    try {
      const kids = fs
        .readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return fs.readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1].split(" ")[1] === String(cluster.child.pid);
          } catch {
            return false;
          }
        });
      expect(kids.length).toBeGreaterThanOrEqual(2);
      for (const pid of [String(cluster.child.pid), ...kids]) expect(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(token);
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it("5: a setuid binary planted by one session gives another session nothing; neither sees the other's files", async () => {
    const x = await session();
    const planted = await run(
      x,
      `import os, shutil, sys\nopen('x-secret-${tag}.txt', 'w').write('x-secret')\nos.chmod('.', 0o700)\nfor d in ('/tmp', '/dev/shm', '/var/tmp', '.'):\n    try:\n        p = os.path.join(d, 'px-${tag}')\n        shutil.copy(sys.executable, p)\n        os.chmod(p, 0o4755)\n        print(os.path.abspath(p))\n    except OSError as e:\n        pass\nprint('cwd', os.getcwd(), os.getuid())`,
    );
    const lines = planted.observation.stdout.trim().split("\n");
    const [, xCwd, xUid] = (lines.pop() as string).split(" ");
    const y = await session();
    const probe = await run(
      y,
      `import os, subprocess\nout = []\nfor p in ${JSON.stringify(lines)}:\n    try:\n        out.append(subprocess.run([p, '-c', 'import os; print(os.geteuid())'], capture_output=True, text=True, timeout=10).stdout.strip())\n    except Exception as e:\n        out.append(type(e).__name__)\nfor p in ['${xCwd}/x-secret-${tag}.txt']:\n    try:\n        out.append(open(p).read())\n    except OSError as e:\n        out.append(type(e).__name__)\nfor root in ('/tmp', '/dev/shm', '/var/tmp', '/work', '/home', '/root', '/run', '/srv'):\n    for d, _, files in os.walk(root):\n        if any(f.startswith('x-secret-${tag}') or f.startswith('px-${tag}') for f in files):\n            out.append('found in ' + d)\nprint(out, os.getuid())`,
    );
    const out = probe.observation.stdout;
    expect(out).not.toContain("x-secret'");
    expect(out).not.toContain("found in");
    // As root every session has a uid of its own: Y never ran as X (a non-root server shares its uid with all sessions).
    if (process.getuid?.() === 0) expect(out).not.toContain(`'${xUid}'`);
  });

  it("6: a frame announcing 4 GiB, then streamed data, does not freeze the server", async () => {
    const env = await session();
    const attack = run(
      env,
      "import os, struct, time\nhead = struct.pack('>I', 0xFFFFFFF0)\nfds = {}\nfor fd in range(3, 256):\n    try:\n        os.set_blocking(fd, False)\n        os.write(fd, head)\n        fds[fd] = 0\n    except OSError:\n        pass\nchunk = b'x' * 65536\nend = time.time() + 8\nwhile time.time() < end and fds:\n    for fd in list(fds):\n        try:\n            fds[fd] += os.write(fd, chunk)\n        except BlockingIOError:\n            time.sleep(0.001)\n        except OSError:\n            del fds[fd]\n        if fds.get(fd, 0) > 200 * 1024 ** 2:\n            del fds[fd]\n",
      { timeoutS: 10 },
    ).catch(() => undefined);
    const started = Date.now();
    let slowest = 0;
    while (Date.now() - started < 8_000) {
      const t = Date.now();
      expect(await healthy(server.url, 3_000)).toBe(true);
      slowest = Math.max(slowest, Date.now() - t);
      await new Promise((r) => setTimeout(r, 200));
    }
    await attack;
    expect(slowest).toBeLessThan(3_000);
  });

  it("8: files in /tmp, /dev/shm and /var/tmp die with the session; no network to the server's port or outside", async () => {
    const env = await session();
    const port = new URL(server.url).port;
    const r = await run(
      env,
      `import os, socket\nfor d in ('/tmp', '/dev/shm', '/var/tmp'):\n    try:\n        open(os.path.join(d, 'openenv-attack-${tag}'), 'wb').write(b'x' * 1024)\n    except OSError as e:\n        print(d, type(e).__name__)\nres = []\nfor host, port in (('127.0.0.1', ${port}), ('1.1.1.1', 53), ('deb.debian.org', 80)):\n    s = socket.socket()\n    s.settimeout(3)\n    try:\n        s.connect((host, port))\n        res.append('connected')\n    except OSError as e:\n        res.append(type(e).__name__)\n    finally:\n        s.close()\nprint(res)`,
    );
    expect(r.observation.stdout).not.toContain("connected");
    await env.close();
    for (const d of ["/tmp", "/dev/shm", "/var/tmp"]) {
      await waitFor(() => !fs.existsSync(`${d}/openenv-attack-${tag}`), 10_000, `${d}/openenv-attack-${tag} removed`);
    }
  });
});

describe("attacks", () => {
  it("reading /etc/shadow", async () => {
    const env = await session();
    const r = await run(env, "print(open('/etc/shadow').read())");
    expect(r.observation.errorName).toMatch(/PermissionError|FileNotFoundError/);
  });

  it("killing the server, its parent or every process it can see", async () => {
    const env = await session();
    const r = await run(
      env,
      `import os, signal\nhits = []\nfor pid in [int(p) for p in os.listdir('/proc') if p.isdigit()]:\n    try:\n        if b'node' in open(f'/proc/{pid}/cmdline', 'rb').read():\n            os.kill(pid, signal.SIGKILL)\n            hits.append(pid)\n    except OSError:\n        pass\nprint(hits)\nos.kill(${server.child.pid}, signal.SIGKILL)`,
    );
    expect(r.observation.stdout).toBe("[]\n");
    await run(env, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)").catch(() => undefined);
    await run(env, "import os, signal\nos.kill(-1, signal.SIGKILL)").catch(() => undefined);
    const next = await run(env, "print('back')");
    expect(next.observation.stdout).toBe("back\n");
  });

  it("killing another session's interpreter", async () => {
    const env = await session();
    const victim = await bystander.state();
    await run(env, `import os, signal\nos.kill(${victim.interpreterPid}, signal.SIGKILL)`).catch(() => undefined);
    await run(env, `import os, signal\nos.killpg(${victim.interpreterPid}, signal.SIGKILL)`).catch(() => undefined);
  });

  it("a fork bomb", async () => {
    const env = await session();
    const r = await run(env, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", { timeoutS: 3 });
    expect(r.observation.status).not.toBe(ExecutionStatus.OK);
    const next = await run(env, "print('after the bomb')");
    expect(next.observation.stdout).toBe("after the bomb\n");
  }, 60_000);

  it("a memory bomb (one process, and many)", async () => {
    const env = await session();
    const one = await run(env, "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 ** 2))", { timeoutS: 20 });
    expect(one.observation.status).not.toBe(ExecutionStatus.OK);
    const many = await run(
      env,
      "import os, time\nfor _ in range(8):\n    if os.fork() == 0:\n        b = []\n        try:\n            while True:\n                b.append(bytearray(32 * 1024 ** 2))\n        except MemoryError:\n            time.sleep(30)\ntime.sleep(30)",
      { timeoutS: 8 },
    );
    expect(many.observation.status).not.toBe(ExecutionStatus.OK);
    const next = await run(env, "print('after the bomb')");
    expect(next.observation.stdout).toBe("after the bomb\n");
  }, 90_000);

  it("filling the disk", async () => {
    const env = await session();
    const r = await run(
      env,
      "import os\nwritten = {}\nfor d in ('.', '/tmp', '/dev/shm'):\n    n = 0\n    try:\n        with open(os.path.join(d, 'fill'), 'wb') as f:\n            while n < 64 * 1024 ** 3:\n                f.write(b'x' * 1024 ** 2)\n                n += 1024 ** 2\n    except OSError as e:\n        written[d] = (n // 1024 ** 2, e.errno)\n    try:\n        os.remove(os.path.join(d, 'fill'))\n    except OSError:\n        pass\nprint(written)",
      { timeoutS: 60 },
    );
    const written = r.observation.stdout;
    // Every directory stopped at its limit: ENOSPC (28) or EFBIG (27), well before 64 GiB.
    expect(written).toMatch(/'\.': \(\d+, 2[78]\)/);
    expect(written).toMatch(/'\/tmp': \(\d+, 2[78]\)/);
    expect(written).toMatch(/'\/dev\/shm': \(\d+, 2[78]\)/);
  }, 120_000);

  it("ctypes: setuid(0), new namespaces, mount, ptrace of the supervisor", async () => {
    const env = await session();
    const r = await run(
      env,
      "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nres = {}\nres['setuid'] = libc.setuid(0)\nres['unshare_user'] = libc.unshare(0x10000000)\nres['unshare_mount'] = libc.unshare(0x00020000)\nres['mount'] = libc.mount(b'none', b'/usr', b'tmpfs', 0, None)\nres['ptrace_parent'] = libc.ptrace(16, os.getppid(), None, None)\ntry:\n    open(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n    res['parent_mem'] = 0\nexcept OSError:\n    res['parent_mem'] = -1\nprint(sorted(res.items()))",
    );
    expect(r.observation.stdout).toBe(
      "[('mount', -1), ('parent_mem', -1), ('ptrace_parent', -1), ('setuid', -1), ('unshare_mount', -1), ('unshare_user', -1)]\n",
    );
  });
});
