// Replicas behind HAProxy (the scale test's configuration, soak/haproxy.ts): every transport
// reaches the replica that holds its session; when a replica goes away, a VectorEnv replaces
// the sessions it held on the others and marks those results truncated, /ws and HTTP clients
// get NOT_FOUND with SessionLost naming it, and sessions on the other replicas go on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Balancer, haproxyBinary, startHaproxy } from "../soak/haproxy.js";
import { EnvClient, type EnvStepResult } from "../src/client/env-client.js";
import { type LostSession, VectorEnv } from "../src/client/vector-env.js";
import { replicaOf } from "../src/core/replica.js";
import { EchoEnvironment, echoSpec } from "../src/envs/echo/environment.js";
import { findSessionLost } from "../src/protocol/errors.js";
import { type EnvironmentServer, serve } from "../src/server/serve.js";

const replicas = new Map<string, EnvironmentServer>();
let balancer: Balancer;

beforeAll(async () => {
  expect(haproxyBinary(), "haproxy is installed (.ci/run installs it)").toBeDefined();
  for (const id of ["r1", "r2", "r3"]) replicas.set(id, await serve(EchoEnvironment, { port: 0, replicaId: id }));
  balancer = await startHaproxy([...replicas].map(([id, s]) => ({ id, host: "127.0.0.1", port: s.port })));
});
afterAll(async () => {
  await balancer?.stop();
  await Promise.all([...replicas.values()].map((s) => s.close()));
});

const holder = (id: string | undefined) => replicaOf(id ?? "")?.id;

describe("replicas behind HAProxy", () => {
  it("spreads new sessions, routes every later call to the session's replica, and replaces sessions lost with one", async () => {
    const lost: LostSession[] = [];
    const vec = await VectorEnv.connect({
      baseUrl: balancer.url,
      spec: echoSpec,
      count: 12,
      transport: "grpc",
      connections: 2,
      onSessionLost: (l) => lost.push(l),
    });
    // A /ws and an HTTP session on r2: new clients until one lands there (round robin: a few at most).
    const onR2 = async (transport: "websocket" | "http") => {
      for (let i = 0; i < 8; i++) {
        const env = await EnvClient.connect({ baseUrl: balancer.url, spec: echoSpec, transport });
        await env.reset();
        if (holder(env.sessionId) === "r2") return env;
        await env.close();
      }
      throw new Error(`no ${transport} session landed on r2`);
    };
    const ws = await onR2("websocket");
    const http = await onR2("http");
    try {
      await vec.resetAll();
      const before = vec.envs.map((e) => e.sessionId);
      expect(new Set(before.map(holder))).toEqual(new Set(["r1", "r2", "r3"]));
      for (let i = 1; i <= 3; i++) {
        for (const r of await vec.stepAll(vec.envs.map(() => ({ message: `m${i}` })))) expect(r.stepCount).toBe(i);
      }
      // The Step streams' state reads reach the replica that holds each session (step counts agree).
      for (const env of vec.envs) expect((await env.state()).stepCount).toBe(3);
      for (const env of [ws, http]) expect((await env.step({ message: "x" })).stepCount).toBe(1);

      await (replicas.get("r2") as EnvironmentServer).close();
      const results: EnvStepResult[] = await vec.stepAll(vec.envs.map(() => ({ message: "after" })));
      const wasOnR2 = before.map((id) => holder(id) === "r2");
      expect(lost.map((l) => l.index).sort((a, b) => a - b)).toEqual(wasOnR2.flatMap((on, i) => (on ? [i] : [])));
      expect(vec.lostSessions).toBe(lost.length);
      for (const [i, r] of results.entries()) {
        if (wasOnR2[i]) {
          expect(r).toMatchObject({ truncated: true, done: true, stepCount: 0 });
          expect(r.metadata.session_lost).toEqual({ session_id: before[i], holder: "r2" });
          expect(holder(vec.envs[i]?.sessionId)).not.toBe("r2");
        } else {
          expect(r).toMatchObject({ truncated: false, stepCount: 4 });
          expect(vec.envs[i]?.sessionId).toBe(before[i]);
        }
      }
      // The replaced slots step on in their new episode; the others in theirs.
      for (const [i, r] of (await vec.stepAll(vec.envs.map(() => ({ message: "next" })))).entries()) {
        expect(r.stepCount).toBe(wasOnR2[i] ? 1 : 5);
      }
      // /ws and HTTP: one clear error naming the replica; the next reset opens a session elsewhere.
      for (const env of [ws, http]) {
        const lostId = env.sessionId;
        const err = await env.step({ message: "y" }).catch((e: unknown) => e);
        expect(findSessionLost(err as never)).toEqual({ sessionId: lostId, holder: "r2" });
        await env.reset();
        expect(holder(env.sessionId)).not.toBe("r2");
        expect((await env.step({ message: "z" })).stepCount).toBe(1);
      }
    } finally {
      await vec.close();
      await ws.close();
      await http.close();
    }
  });
});
