/** What {@link withDeadline} resolves with when the value did not settle in time. */
export const TIMED_OUT: unique symbol = Symbol('wshub.timedOut');

/**
 * Resolves with what `value` settles to, or with {@link TIMED_OUT} after
 * `ms`; rejects when `value` rejects in time. A late answer is ignored. The
 * hub uses it for every user callback that may never settle (`canWatch`,
 * `push` callbacks), so none can hold a socket or a call forever.
 */
export function withDeadline<T>(value: PromiseLike<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
    const timer = setTimeout(() => resolve(TIMED_OUT), ms);
    Promise.resolve(value).then(
      (result) => {
        clearTimeout(timer);
        resolve(result);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
