/** A step's time ran out. */
export class DeadlineExceeded extends Error {}

/** Milliseconds left before `deadline` (at least 1, so a timer still fires). */
export function remaining(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

/** Races a promise against the deadline (Playwright's own timeouts do not cover everything, e.g. CDP calls). */
export function within<T>(deadline: number, promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineExceeded("deadline exceeded")), remaining(deadline));
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
