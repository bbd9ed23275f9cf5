/**
 * A promise with its resolve/reject, for the events an app answers
 * (`ClientConnectedEvent`, `SessionRefreshEvent`). A rejection nobody awaits
 * (an event published outside the module) must not crash the process, so
 * it is marked handled.
 */
export function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason?: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason?: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}
