/**
 * An unbounded single-consumer queue that is also an async iterable: producers
 * `push` without waiting, the consumer iterates. `end()` finishes the iteration
 * after the queued items; `fail(err)` makes the next read throw.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private head = 0;
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private waiterReject: ((err: unknown) => void) | undefined;
  private ended = false;
  private error: { err: unknown } | undefined;

  /** Items waiting to be read. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** True once `end` or `fail` was called. */
  get closed(): boolean {
    return this.ended || this.error !== undefined;
  }

  push(item: T): boolean {
    if (this.closed) return false;
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      this.waiterReject = undefined;
      w({ value: item, done: false });
    } else {
      this.items.push(item);
    }
    return true;
  }

  end(): void {
    if (this.closed) return;
    this.ended = true;
    const w = this.waiter;
    if (w !== undefined && this.size === 0) {
      this.waiter = undefined;
      this.waiterReject = undefined;
      w({ value: undefined, done: true });
    }
  }

  fail(err: unknown): void {
    if (this.closed) return;
    this.error = { err };
    const r = this.waiterReject;
    if (r !== undefined) {
      this.waiter = undefined;
      this.waiterReject = undefined;
      r(err);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.error !== undefined) return Promise.reject(this.error.err);
    if (this.head < this.items.length) {
      const value = this.items[this.head] as T;
      this.items[this.head] = undefined as T;
      this.head++;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.waiterReject = reject;
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    const stop = (): Promise<IteratorResult<T>> => {
      this.end();
      this.items = [];
      this.head = 0;
      return Promise.resolve({ value: undefined, done: true });
    };
    // connect-es aborts request iterables through throw(); both end the queue.
    return { next: () => this.next(), return: stop, throw: stop };
  }
}
