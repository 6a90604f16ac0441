// The server-wide session limit of a cluster (src/server/cluster/slots.ts): the
// primary's ledger and the workers' slot pools, wired together in memory with
// asynchronous delivery standing in for IPC.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SlotLedger, WorkerSlots } from "../src/server/cluster/slots.js";

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A ledger and `n` workers (ids 1..n) whose messages arrive a turn later, as over IPC. */
function cluster(max: number, n: number, spare = 1) {
  const workers = new Map<number, WorkerSlots>();
  const ledger = new SlotLedger(
    max,
    async (w) => {
      await tick();
      return workers.get(w)?.recall();
    },
    () => [...workers.keys()],
  );
  for (let id = 1; id <= n; id++) {
    workers.set(
      id,
      new WorkerSlots(
        async (want, used) => {
          await tick();
          const g = await ledger.acquire(id, want, used);
          await tick();
          return g;
        },
        (k) => void tick().then(() => ledger.release(id, k)),
        spare,
      ),
    );
  }
  const used = (): number => [...workers.values()].reduce((s, w) => s + w.inUse, 0);
  return { ledger, workers, used };
}

describe("server-wide session slots", () => {
  it("refuses exactly when every slot of the server is in use, whichever worker asks (sequential opens and closes)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 60 }),
        async (max, n, spare, ops) => {
          const c = cluster(max, n, spare);
          for (const [open, pick] of ops) {
            const worker = c.workers.get((pick % n) + 1) as WorkerSlots;
            if (open) {
              const before = c.used();
              const r = worker.acquire();
              const refused = r === undefined ? undefined : await r;
              if (before < max) expect(refused).toBeUndefined();
              else expect(refused).toEqual({ activeSessions: max, maxSessions: max });
            } else if (worker.inUse > 0) {
              worker.release();
            }
            await tick();
            await tick();
            expect(c.used()).toBeLessThanOrEqual(max);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("never lends more than the limit when many opens race on every worker", async () => {
    const c = cluster(5, 3, 2);
    const attempts = [...c.workers.values()].flatMap((w) => Array.from({ length: 6 }, () => w.acquire()));
    const results = await Promise.all(attempts.map((r) => (r === undefined ? Promise.resolve(undefined) : r)));
    expect(results.filter((r) => r === undefined)).toHaveLength(5);
    expect(c.used()).toBe(5);
    // Freed slots serve whoever asks next, even another worker.
    const first = c.workers.get(1) as WorkerSlots;
    const third = c.workers.get(3) as WorkerSlots;
    while (first.inUse > 0) first.release();
    await tick();
    const again = third.acquire();
    expect(again === undefined ? undefined : await again).toBeUndefined();
  });

  it("a worker that is gone gives its slots back", async () => {
    const c = cluster(2, 2);
    const a = c.workers.get(1) as WorkerSlots;
    const b = c.workers.get(2) as WorkerSlots;
    for (let i = 0; i < 2; i++) expect(await a.acquire()).toBeUndefined();
    expect(await b.acquire()).toEqual({ activeSessions: 2, maxSessions: 2 });
    c.workers.delete(1);
    c.ledger.forget(1);
    expect(await b.acquire()).toBeUndefined();
    expect(await b.acquire()).toBeUndefined();
  });
});
