import { randomBytes } from "node:crypto";

const mask64 = (1n << 64n) - 1n;

/** splitmix64: spreads a 64-bit seed into well-mixed 64-bit words (for seeding only). */
function* splitmix64(seed: bigint): Generator<bigint> {
  let state = seed & mask64;
  for (;;) {
    state = (state + 0x9e3779b97f4a7c15n) & mask64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask64;
    yield z ^ (z >> 31n);
  }
}

/**
 * A small, fast, seedable PRNG (sfc32 seeded by splitmix64). The same seed
 * gives the same sequence on every platform and Node version, which
 * `Math.random` does not promise; environments use it so that a seed and a
 * list of actions reproduce an episode exactly.
 */
export class SeededRandom {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** Creates a generator from a 64-bit seed (negative and larger values are reduced modulo 2^64). */
  constructor(readonly seed: bigint) {
    const words = splitmix64(seed);
    const w1 = words.next().value as bigint;
    const w2 = words.next().value as bigint;
    this.a = Number(w1 >> 32n) | 0;
    this.b = Number(w1 & 0xffffffffn) | 0;
    this.c = Number(w2 >> 32n) | 0;
    this.d = Number(w2 & 0xffffffffn) | 1;
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** A fresh random 64-bit seed, for unseeded episodes (reported so they can be replayed). */
  static randomSeed(): bigint {
    return randomBytes(8).readBigUInt64BE();
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new RangeError(`int(n) needs an integer 1..2^32, got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** A uniformly chosen element. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick() from an empty list");
    return items[this.int(items.length)];
  }

  /** Shuffles in place (Fisher-Yates) and returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }
}
