/**
 * Runs `task` over `items` with at most `limit` unfinished promises at once.
 * A task that returns synchronously costs no promise at all, so a plain
 * `(user) => user.role === 'admin'` filter stays a loop. `task` must not
 * reject (the hub's tasks report their own errors); a rejection is swallowed.
 */
export function runBounded<T>(
  items: Iterable<T>,
  limit: number,
  task: (item: T) => Promise<unknown> | undefined,
): Promise<void> {
  const iterator = items[Symbol.iterator]();
  return new Promise<void>((resolve) => {
    let active = 0;
    let exhausted = false;
    const settle = () => {
      active--;
      pump();
    };
    const pump = () => {
      while (!exhausted && active < limit) {
        const next = iterator.next();
        if (next.done) {
          exhausted = true;
          break;
        }
        let result: Promise<unknown> | undefined;
        try {
          result = task(next.value);
        } catch {
          continue;
        }
        if (result) {
          active++;
          result.then(settle, settle);
        }
      }
      if (exhausted && active === 0) resolve();
    };
    pump();
  });
}
