// The server-wide session limit of a cluster. The primary owns `max` slots and
// lends them to workers; a worker keeps a few spare ones so that opening a
// session (one per stateless HTTP request) rarely needs a message, and the
// primary takes spare slots back from the others before it refuses anyone.
// The sum of the slots lent never exceeds `max`, so the limit is exact.
import type { Capacity } from "../../protocol/errors.js";

/** What the primary answers a worker that asked for slots. */
export interface Grant {
  /** Slots granted; 0 means the server is full. */
  readonly n: number;
  /** Sessions open in all workers, as last reported. */
  readonly active: number;
  readonly max: number;
}

/** A worker's answer to a recall: the spare slots it gave back and the slots it uses. */
export interface Recalled {
  readonly n: number;
  readonly used: number;
}

/** The primary's ledger of slots. */
export class SlotLedger {
  private free: number;
  private readonly held = new Map<number, number>();
  private readonly used = new Map<number, number>();
  private turn: Promise<unknown> = Promise.resolve();

  /**
   * @param recall asks a worker to give back its spare slots (undefined: no answer)
   * @param workers the workers that hold slots now
   */
  constructor(
    readonly max: number,
    private readonly recall: (worker: number) => Promise<Recalled | undefined>,
    private readonly workers: () => readonly number[],
  ) {
    this.free = max;
  }

  /** Lends up to `want` slots to `worker` (which uses `used`); requests are served one at a time. */
  acquire(worker: number, want: number, used: number): Promise<Grant> {
    const next = this.turn.then(() => this.grant(worker, want, used));
    this.turn = next.catch(() => {});
    return next;
  }

  /** A worker gave slots back. */
  release(worker: number, n: number): void {
    const held = this.held.get(worker) ?? 0;
    const back = Math.min(n, held);
    this.held.set(worker, held - back);
    this.free += back;
  }

  /** A worker is gone: its slots (and sessions) are free again. */
  forget(worker: number): void {
    this.free += this.held.get(worker) ?? 0;
    this.held.delete(worker);
    this.used.delete(worker);
  }

  /** Slots in use, as last reported by each worker. */
  activeEstimate(): number {
    let sum = 0;
    for (const n of this.used.values()) sum += n;
    return sum;
  }

  private async grant(worker: number, want: number, used: number): Promise<Grant> {
    this.used.set(worker, used);
    if (this.free < 1) {
      // Every slot is lent out: take back the spare ones before refusing.
      const others = this.workers().filter((w) => w !== worker && (this.held.get(w) ?? 0) > 0);
      const answers = await Promise.all(others.map(async (w) => ({ w, r: await this.recall(w) })));
      for (const { w, r } of answers) {
        if (r === undefined || !this.held.has(w)) continue;
        this.release(w, r.n);
        this.used.set(w, r.used);
      }
    }
    const n = Math.max(0, Math.min(want, this.free));
    this.free -= n;
    this.held.set(worker, (this.held.get(worker) ?? 0) + n);
    return { n, active: this.activeEstimate(), max: this.max };
  }
}

/** A worker's slots: those it uses and a few spare ones. */
export class WorkerSlots {
  private held = 0;
  private used = 0;
  private waiting = 0;
  private asking: Promise<Grant> | undefined;

  /**
   * @param ask asks the primary for `want` more slots, reporting `used`
   * @param giveBack returns slots to the primary
   * @param spare free slots kept at hand
   */
  constructor(
    private readonly ask: (want: number, used: number) => Promise<Grant>,
    private readonly giveBack: (n: number) => void,
    private readonly spare: number,
  ) {}

  /** Slots in use (sessions open or being created). */
  get inUse(): number {
    return this.used;
  }

  /** Takes a slot: undefined at once when one is at hand, else a promise of undefined (granted) or the counts (refused). */
  acquire(): Promise<Capacity | undefined> | undefined {
    if (this.used < this.held) {
      this.used++;
      return undefined;
    }
    return this.acquireRemote();
  }

  /** Gives back the slot of a closed session, keeping up to `spare` free ones. */
  release(): void {
    if (this.used > 0) this.used--;
    const excess = this.held - this.used - this.spare;
    if (excess > 0) {
      this.held -= excess;
      this.giveBack(excess);
    }
  }

  /** The primary takes back the free slots (those waiters here will not need). */
  recall(): Recalled {
    const n = Math.max(0, this.held - this.used - this.waiting);
    this.held -= n;
    return { n, used: this.used };
  }

  private async acquireRemote(): Promise<Capacity | undefined> {
    this.waiting++;
    try {
      for (;;) {
        // One request at a time, for every waiter (plus spare ones).
        this.asking ??= this.ask(this.waiting + this.spare, this.used).then(
          (g) => {
            this.held += g.n;
            this.asking = undefined;
            return g;
          },
          (err: unknown) => {
            this.asking = undefined;
            throw err;
          },
        );
        const grant = await this.asking;
        if (this.used < this.held) {
          this.used++;
          return undefined;
        }
        // Refused: every slot of the server is in use (or promised to a session being opened).
        if (grant.n === 0) return { activeSessions: grant.max, maxSessions: grant.max };
      }
    } finally {
      this.waiting--;
    }
  }
}
