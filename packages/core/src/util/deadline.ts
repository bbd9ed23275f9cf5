import { Deadline, type DeadlineQueue } from './deadline-queue.js';

/** What {@link withDeadline} resolves with when the value did not settle in time. */
export const TIMED_OUT: unique symbol = Symbol('wshub.timedOut');

/**
 * Resolves with what `value` settles to, or with {@link TIMED_OUT} after
 * `ms`; rejects when `value` rejects in time. A late answer is ignored. The
 * hub uses it for every user callback that may never settle (`canWatch`,
 * `push` callbacks, `refresh`), so none can hold a socket or a call forever.
 * With `deadlines` (the hub's one timer) the wait is an entry of that queue,
 * not a timer of its own: a thousand callbacks in flight hold one timer.
 */
export function withDeadline<T>(value: PromiseLike<T>, ms: number, deadlines?: DeadlineQueue): Promise<T | typeof TIMED_OUT> {
  return new Promise<T | typeof TIMED_OUT>((resolve, reject) => {
    let stop: () => void;
    if (deadlines) {
      const clock = Deadline.of(() => resolve(TIMED_OUT));
      deadlines.set(clock, Date.now() + ms);
      stop = () => deadlines.delete(clock);
    } else {
      const timer = setTimeout(() => resolve(TIMED_OUT), ms);
      stop = () => clearTimeout(timer);
    }
    Promise.resolve(value).then(
      (result) => {
        stop();
        resolve(result);
      },
      (error: unknown) => {
        stop();
        reject(error);
      },
    );
  });
}
