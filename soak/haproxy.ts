// HAProxy in front of openenv replicas, as the scale test and the balancer bench run it
// (and as docs/deploy.md shows it): gRPC, Connect and gRPC-Web over h2c, OpenEnv's HTTP
// and /ws over HTTP/1.1, on one port. A new session goes to any healthy replica (round
// robin); every later call names its session (the `openenv-session-id` header, or
// `?session_id=` on a /ws resume), whose id starts with the replica's id, and is sent to
// that replica while it is up. When it is down, the call goes elsewhere and is answered
// NOT_FOUND with the SessionLost detail: the session ended with its replica.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/** A replica the balancer routes to. */
export interface Upstream {
  /** The replica id (`openenv serve --replica-id`): the prefix of its session ids. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/**
 * The HAProxy configuration: one frontend, a backend for h2 (the RPC protocols, and
 * OpenEnv's HTTP routes, which HAProxy converts) and one for WebSocket upgrades (HTTP/1.1
 * to the replica; the replicas do not speak WebSocket over HTTP/2). Affinity is a prefix
 * match of the session id on the replica id, so no table is kept and a restarted
 * balancer routes the same way.
 */
export function haproxyConfig(listen: { host: string; port: number }, upstreams: readonly Upstream[], log = false): string {
  const affinity = (backend: "rpc" | "ws") =>
    upstreams.flatMap((u) => [
      ...(backend === "rpc" ? [`  use-server ${u.id} if { req.hdr(openenv-session-id) -m beg ${u.id}. }`] : []),
      `  use-server ${u.id} if { url_param(session_id) -m beg ${u.id}. }`,
    ]);
  return `${[
    "global",
    "  maxconn 4000",
    ...(log ? ["  log stderr format raw local0 info"] : []),
    // A VectorEnv multiplexes one Step stream per session on a connection (HAProxy's default is 100).
    "  tune.h2.max-concurrent-streams 1000",
    "defaults",
    "  mode http",
    ...(log ? ["  log global", "  option httplog"] : []),
    "  timeout connect 2s",
    // Step streams and sockets stay open between steps, for as long as an episode runs.
    "  timeout client 1h",
    "  timeout server 1h",
    "  timeout tunnel 1h",
    "  timeout http-keep-alive 30s",
    // A replica that refuses the connection (killed, restarting): try another at once.
    "  retries 3",
    "  option redispatch 1",
    "frontend openenv",
    // No 'proto h2': HAProxy takes h2c with prior knowledge and HTTP/1.1 on the same port.
    `  bind ${listen.host}:${listen.port}`,
    "  acl websocket hdr(upgrade) -i websocket",
    "  use_backend ws if websocket",
    "  default_backend rpc",
    "backend rpc",
    "  balance roundrobin",
    // /health answers 503 while a replica drains: it then gets no new sessions. The check
    // speaks HTTP/1 (check-proto h1): HAProxy 2.6's h2 check of a replica reports a socket error.
    "  option httpchk GET /health",
    "  http-check expect status 200",
    // A killed replica is passed over at once without the check (a refused connection is
    // redispatched); the check only keeps new sessions away. Down after 3 failed checks, not 1:
    // a replica busy enough to answer one check late must not have its sessions sent elsewhere.
    "  timeout check 3s",
    "  default-server check inter 500ms fall 3 rise 2",
    ...affinity("rpc"),
    ...upstreams.map((u) => `  server ${u.id} ${u.host}:${u.port} proto h2 check-proto h1`),
    "backend ws",
    "  balance roundrobin",
    ...affinity("ws"),
    ...upstreams.map((u) => `  server ${u.id} ${u.host}:${u.port} track rpc/${u.id}`),
  ].join("\n")}\n`;
}

/** The HAProxy binary, or undefined when it is not installed (`.ci/run` installs Debian's). */
export function haproxyBinary(): string | undefined {
  for (const candidate of ["/usr/sbin/haproxy", "/usr/local/sbin/haproxy", "/usr/bin/haproxy"]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync("sh", ["-c", "command -v haproxy"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A running HAProxy. */
export interface Balancer {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess;
  readonly configFile: string;
  /** Resolves once HAProxy's health check reports the replica up (at once if it is up now). */
  waitUp(id: string): Promise<void>;
  stop(): Promise<void>;
}

/** A free loopback port (HAProxy needs a number in its configuration). */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((r) => server.close(r));
  return port;
}

/** Starts HAProxy in the foreground (`-db`) in front of `upstreams`; resolves once it accepts connections. */
export async function startHaproxy(upstreams: readonly Upstream[], host = "127.0.0.1"): Promise<Balancer> {
  const bin = haproxyBinary();
  if (bin === undefined) throw new Error("haproxy is not installed (Debian: apt-get install haproxy)");
  const port = await freePort(host);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "openenv-haproxy-"));
  const configFile = path.join(dir, "haproxy.cfg");
  // OPENENV_HAPROXY_LOG=1: HAProxy's request and health-check log on this process's stderr.
  const log = process.env.OPENENV_HAPROXY_LOG === "1";
  fs.writeFileSync(configFile, haproxyConfig({ host, port }, upstreams, log));
  execFileSync(bin, ["-c", "-q", "-f", configFile], { stdio: "inherit" });
  const child = spawn(bin, ["-db", "-f", configFile], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  // HAProxy starts with every server up; its log says when a check changes that.
  const down = new Set<string>();
  const waiting = new Map<string, Array<() => void>>();
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
    if (log) process.stderr.write(d);
    for (const line of d.toString().split("\n")) {
      // A replica's health changes (down, up, none left) are worth seeing in every run.
      if (!log && /^\[(WARNING|ALERT)\]/.test(line)) process.stderr.write(`haproxy: ${line}\n`);
      const m = /Server rpc\/(\S+) is (UP|DOWN)/.exec(line);
      if (m === null) continue;
      const id = m[1] as string;
      if (m[2] === "DOWN") down.add(id);
      else {
        down.delete(id);
        for (const resolve of waiting.get(id) ?? []) resolve();
        waiting.delete(id);
      }
    }
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited (${child.exitCode}): ${stderr}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) break;
    if (i > 100) throw new Error(`haproxy did not listen on ${host}:${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://${host}:${port}`,
    port,
    process: child,
    configFile,
    waitUp(id) {
      if (!down.has(id)) return Promise.resolve();
      return new Promise((resolve) => waiting.set(id, [...(waiting.get(id) ?? []), resolve]));
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
