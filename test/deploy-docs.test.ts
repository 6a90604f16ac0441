// docs/deploy.md's configurations are checked as far as this machine can: the HAProxy
// configuration is the one the scale test generates and HAProxy accepts it; nginx accepts
// its configuration (`nginx -t`); the Compose, Kubernetes and Envoy YAML parse, and the
// Kubernetes manifests have what the text promises (gRPC health probes on the served port,
// the pod name as replica id, a grace period longer than the drain).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { haproxyBinary, haproxyConfig } from "../soak/haproxy.js";

const doc = fs.readFileSync(path.join(import.meta.dirname, "..", "docs", "deploy.md"), "utf8");

/** The fenced blocks of one language, in order. */
function blocks(lang: string): string[] {
  return [...doc.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, "g"))].map((m) => m[1] as string);
}

type Json = Record<string, unknown>;
const yamlDocs = (text: string): Json[] =>
  parseAllDocuments(text).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Json;
  });

const nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => fs.existsSync(p));

describe("docs/deploy.md", () => {
  it("shows the HAProxy configuration the scale test runs, and HAProxy accepts it", () => {
    const [shown] = blocks("haproxy");
    const upstreams = [1, 2, 3].map((i) => ({ id: `r${i}`, host: "127.0.0.1", port: 8000 + i }));
    expect(shown).toBe(haproxyConfig({ host: "0.0.0.0", port: 8000 }, upstreams));
    const bin = haproxyBinary();
    expect(bin, "haproxy is installed (.ci/run installs it)").toBeDefined();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-haproxy-"));
    try {
      fs.writeFileSync(path.join(dir, "haproxy.cfg"), shown as string);
      execFileSync(bin as string, ["-c", "-q", "-f", path.join(dir, "haproxy.cfg")], { stdio: "pipe" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.runIf(nginx !== undefined)("has an nginx configuration that nginx -t accepts", () => {
    const [shown] = blocks("nginx");
    expect(shown).toContain("grpc_pass grpc://$replica:8000");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deploy-nginx-"));
    try {
      fs.mkdirSync(path.join(dir, "logs"));
      // Run as this user, with logs and temp files in the temp dir, not /var.
      const conf = `pid ${dir}/nginx.pid;\nerror_log ${dir}/logs/error.log;\n${(shown as string).replace(
        "http {",
        `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fastcgi;\n  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;`,
      )}`;
      fs.writeFileSync(path.join(dir, "nginx.conf"), conf);
      const out = execFileSync(nginx as string, ["-t", "-p", dir, "-c", path.join(dir, "nginx.conf")], { stdio: "pipe", encoding: "utf8" });
      expect(out).toBe("");
    } catch (err) {
      throw new Error(`nginx -t: ${String((err as { stderr?: string }).stderr ?? err)}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("has Kubernetes manifests with gRPC health probes, the pod name as replica id, and a grace period past the drain", () => {
    const manifests = blocks("yaml")
      .flatMap(yamlDocs)
      .filter((d) => typeof d.kind === "string");
    expect(manifests.map((m) => m.kind)).toEqual(["StatefulSet", "Service", "Service"]);
    for (const m of manifests) {
      expect(m.apiVersion).toMatch(/^(apps\/)?v1$/);
      expect((m.metadata as Json).name).toMatch(/^[a-z0-9-]+$/);
    }
    const sts = manifests[0] as Json;
    const spec = sts.spec as Json;
    const pod = (spec.template as Json).spec as Json;
    const container = (pod.containers as Json[])[0] as Json;
    const port = ((container.ports as Json[])[0] as Json).containerPort;
    expect(((container.readinessProbe as Json).grpc as Json).port).toBe(port);
    expect(((container.livenessProbe as Json).grpc as Json).port).toBe(port);
    expect(container.env).toContainEqual({ name: "OPENENV_REPLICA_ID", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } });
    const args = container.args as string[];
    const drain = Number(args[args.indexOf("--drain-timeout") + 1]);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drain);
    // The headless Service names the pods the balancer routes to; both select the StatefulSet's pods.
    expect(((manifests[1] as Json).spec as Json).clusterIP).toBe("None");
    expect(spec.serviceName).toBe((manifests[1] as Json).metadata && ((manifests[1] as Json).metadata as Json).name);
    for (const svc of manifests.slice(1)) expect((svc.spec as Json).selector).toEqual((spec.selector as Json).matchLabels);
  });

  it("has a Compose file whose replicas each have their own id and port, and an Envoy config with a route per replica", () => {
    const all = blocks("yaml").flatMap(yamlDocs);
    const compose = all.find((d) => d.services !== undefined) as { services: Record<string, { command?: string[] }> };
    const replicas = Object.values(compose.services).filter((s) => s.command?.includes("--replica-id"));
    const idOf = (c: string[]) => c[c.indexOf("--replica-id") + 1];
    const portOf = (c: string[]) => c[c.indexOf("--port") + 1];
    expect(replicas.map((s) => idOf(s.command as string[]))).toEqual(["r1", "r2", "r3"]);
    expect(replicas.map((s) => portOf(s.command as string[]))).toEqual(["8001", "8002", "8003"]);
    const envoy = all.find((d) => d.static_resources !== undefined) as Json;
    const text = JSON.stringify(envoy);
    for (const r of ["openenv-0", "openenv-1", "openenv-2"]) {
      expect(text).toContain(`"prefix":"${r}."`);
      expect(text).toContain(`"cluster":"${r}"`);
    }
    expect(text).toContain("grpc_health_check");
  });
});
