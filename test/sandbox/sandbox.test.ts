// The server's sandbox API (Sandbox.start) against the real bubblewrap and control
// groups of this machine, and the frame reader every sandbox channel goes through.
import * as fs from "node:fs";
import * as net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { cgroupSupport } from "../../src/server/sandbox/cgroup.js";
import { encodeFrame, FrameError, FrameReader } from "../../src/server/sandbox/frames.js";
import { Sandbox, type SandboxOptions, sandboxReport } from "../../src/server/sandbox/sandbox.js";
import { waitFor } from "../auto/helpers.js";
import { processTable } from "../fixtures/process-table.js";

const isRoot = process.getuid?.() === 0;
const boxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(boxes.map((b) => b.close()));
});

/** Runs a Python program in a new sandbox; resolves to its stdout once it exits. */
async function python(code: string, options: Partial<SandboxOptions> = {}): Promise<{ out: string; err: string; box: Sandbox }> {
  const box = await Sandbox.start({ command: ["/usr/bin/python3", "-c", code], ...options });
  boxes.push(box);
  let out = "";
  let err = "";
  box.process.stdout?.setEncoding("utf8").on("data", (d: string) => (out += d));
  box.process.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
  box.process.stdin?.end();
  await box.exited;
  await new Promise((r) => setImmediate(r));
  return { out, err, box };
}

describe("Sandbox.start", () => {
  it("reports what it isolates with", () => {
    const report = sandboxReport();
    expect(report.available).toBe(true);
    expect(report.summary).toMatch(/^bubblewrap \d+\.\d+/);
  });

  it("shows the program only its own processes, a read-only system, private writable directories and no server environment", async () => {
    process.env.OPENENV_TEST_SECRET = "not-for-the-sandbox";
    try {
      const { out, err } = await python(
        [
          "import os, json",
          "def writable(p):",
          "    try:",
          "        open(os.path.join(p, 'probe'), 'w').write('x')",
          "        return True",
          "    except OSError:",
          "        return False",
          "mounts = {l.split()[1]: l.split()[3] for l in open('/proc/self/mounts')}",
          "status = open('/proc/self/status').read()",
          "print(json.dumps({'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), 'cwd': os.getcwd(),",
          "  'env': dict(os.environ), 'usr': writable('/usr/bin'), 'etc': writable('/etc'), 'work': writable('.'),",
          "  'tmp': writable('/tmp'), 'shm': writable('/dev/shm'), 'opts': {d: mounts.get(d, '') for d in ('/tmp', '/dev/shm', '/var/tmp', '/work')},",
          "  'nnp': status.split('NoNewPrivs:')[1].split()[0], 'caps': status.split('CapEff:')[1].split()[0],",
          "  'home': os.path.exists('/root') or os.path.exists('/home'), 'uid': os.getuid()}))",
        ].join("\n"),
        { env: { PATH: "/usr/bin:/bin", ONLY: "this" } },
      );
      expect(err).toBe("");
      const seen = JSON.parse(out) as Record<string, unknown> & { opts: Record<string, string>; pids: number[] };
      expect(seen.pids.every((p) => p < 10)).toBe(true);
      expect(seen.cwd).toBe("/work");
      // PWD comes from bwrap's --chdir, LC_CTYPE from Python's own locale coercion.
      expect(
        Object.keys(seen.env as object)
          .filter((k) => k !== "PWD" && k !== "LC_CTYPE")
          .sort(),
      ).toEqual(["ONLY", "PATH"]);
      expect([seen.usr, seen.etc, seen.work, seen.tmp, seen.shm]).toEqual([false, false, true, true, true]);
      for (const dir of ["/tmp", "/dev/shm", "/var/tmp", "/work"]) expect(seen.opts[dir]).toMatch(/nosuid,nodev/);
      expect(seen.nnp).toBe("1");
      expect(seen.caps).toBe("0000000000000000");
      expect(seen.home).toBe(false);
      if (isRoot) expect(seen.uid).toBeGreaterThanOrEqual(61000);
    } finally {
      delete process.env.OPENENV_TEST_SECRET;
    }
  });

  it("has no network unless asked, not even to this process's loopback port", async () => {
    const server = net.createServer((s) => s.end("hello"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const probe = `import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n    s.connect(('127.0.0.1', ${port}))\n    print(s.recv(5).decode())\nexcept OSError as e:\n    print(type(e).__name__)`;
    try {
      expect((await python(probe)).out).toBe("ConnectionRefusedError\n");
      expect((await python(probe, { network: true })).out).toBe("hello\n");
    } finally {
      server.close();
    }
  });

  it("limits the size of its writable directories", async () => {
    const { out } = await python(
      "import os\nfor d in ('/work', '/tmp'):\n    n = 0\n    try:\n        with open(os.path.join(d, 'fill'), 'wb') as f:\n            while True:\n                f.write(b'x' * 1048576)\n                n += 1\n    except OSError as e:\n        print(d, n, e.errno)",
      { workdirSizeMb: 8, tmpSizeMb: 4 },
    );
    expect(out).toMatch(/^\/work [78] 28\n\/tmp [34] 28\n$/);
  });

  it.skipIf(cgroupSupport().controllers.length < 3)(
    "limits memory and processes of all its processes together, and counts OOM kills",
    async () => {
      // Four processes of 40 MiB each stay under 256 MiB per process, but not under 96 MiB together.
      const { out, box } = await python(
        "import os, time\nkids = []\nfor _ in range(4):\n    pid = os.fork()\n    if pid == 0:\n        b = bytearray(40 * 1048576)\n        for i in range(0, len(b), 4096):\n            b[i] = 1\n        time.sleep(2)\n        os._exit(0)\n    kids.append(pid)\nprint(sorted(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in kids))",
        { memoryLimitMb: 96 },
      );
      expect(out).toMatch(/-9/); // some were killed with SIGKILL
      expect(box.oomKills()).toBeGreaterThan(0);
      const forks = await python(
        "import os\nn = 0\ntry:\n    while n < 100:\n        if os.fork() == 0:\n            import time; time.sleep(5); os._exit(0)\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)",
        { maxProcesses: 10 },
      );
      expect(forks.out).toMatch(/^[0-9] 11\n$/); // EAGAIN well before 100
      expect(forks.box.cgroupLimits).toEqual(expect.arrayContaining(["memory", "pids", "cpu"]));
    },
    60_000,
  );

  it.skipIf(!isRoot)("dies as a whole: closing it (or killing its outer process) leaves no process and no control group", async () => {
    const box = await Sandbox.start({
      command: [
        "/usr/bin/python3",
        "-c",
        "import subprocess, time\nsubprocess.Popen(['sleep', '1000'], start_new_session=True)\nprint('up', flush=True)\ntime.sleep(1000)",
      ],
    });
    boxes.push(box);
    await new Promise<void>((resolve) => box.process.stdout?.once("data", () => resolve()));
    const uid = box.uid as number;
    expect(processTable().filter((p) => p.uid === uid).length).toBeGreaterThanOrEqual(3);
    const dirs = box.cgroupDirectories;
    if (cgroupSupport().controllers.length > 0) {
      expect(box.pids().length).toBeGreaterThanOrEqual(3);
      expect(dirs.every((d) => fs.existsSync(d))).toBe(true);
    }
    await box.close();
    await waitFor(() => processTable().every((p) => p.uid !== uid), 10_000, "the sandbox's processes gone");
    expect(dirs.filter((d) => fs.existsSync(d))).toEqual([]);
  });
});

describe("FrameReader", () => {
  it("splits frames across chunks and joins chunks once per frame", () => {
    const r = new FrameReader(1024);
    const a = encodeFrame(Buffer.from("hello"));
    const b = encodeFrame(Buffer.from("world!"));
    const all = Buffer.concat([a, b]);
    const got: string[] = [];
    for (const byte of all) for (const f of r.push(Buffer.from([byte]))) got.push(f.toString());
    expect(got).toEqual(["hello", "world!"]);
  });

  it("refuses a frame over the limit as soon as its header arrives, and stays refused", () => {
    const r = new FrameReader(1024);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0xfffffff0);
    expect(() => r.push(head)).toThrow(FrameError);
    expect(() => r.push(Buffer.from("more"))).toThrow(/4294967280 bytes \(the limit is 1024\)/);
  });

  it("takes a large frame streamed in small chunks in linear time", () => {
    const r = new FrameReader(64 * 1024 * 1024);
    const body = Buffer.alloc(48 * 1024 * 1024, 1);
    const frame = encodeFrame(body);
    const started = performance.now();
    let out: Buffer[] = [];
    for (let i = 0; i < frame.length; i += 16 * 1024) out = out.concat(r.push(frame.subarray(i, i + 16 * 1024)));
    expect(out.length).toBe(1);
    expect(out[0].length).toBe(body.length);
    // Quadratic joining (3072 chunks re-copied each time) takes minutes; linear takes well under a few seconds even on a loaded machine.
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
