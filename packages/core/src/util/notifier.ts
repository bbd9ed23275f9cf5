/** A handler of one notification. */
export type Handler<T> = (payload: T) => void;

/**
 * A typed event map in a few lines, as mitt is, with one difference that
 * matters to a server: every handler is called on its own. One that throws
 * is handed to `onError` and the handlers after it still run (mitt's `emit`
 * stops at the first throw); so is one that returns a promise that rejects
 * (an `async` handler: `'undelivered'` handing off to e-mail), which would
 * otherwise be an unhandled rejection, and Node ends the process on those.
 * The list is copied before calling, so a handler may add or remove
 * handlers.
 */
export class Notifier<Events extends Record<string, unknown>> {
  private readonly handlers = new Map<keyof Events, Array<Handler<never>>>();

  constructor(private readonly onError: (name: keyof Events, error: unknown) => void) {}

  on<K extends keyof Events>(name: K, handler: Handler<Events[K]>): void {
    const list = this.handlers.get(name);
    if (list) list.push(handler as Handler<never>);
    else this.handlers.set(name, [handler as Handler<never>]);
  }

  /** Removes `handler`, or every handler of `name` when none is given. */
  off<K extends keyof Events>(name: K, handler?: Handler<Events[K]>): void {
    const list = this.handlers.get(name);
    if (!list) return;
    if (handler === undefined) {
      this.handlers.delete(name);
      return;
    }
    const i = list.indexOf(handler as Handler<never>);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.handlers.delete(name);
  }

  has(name: keyof Events): boolean {
    return this.handlers.has(name);
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const list = this.handlers.get(name);
    if (!list) return;
    for (const handler of list.slice()) {
      try {
        const result: unknown = (handler as Handler<Events[K]>)(payload);
        if (result !== undefined && typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.onError(name, error));
        }
      } catch (error) {
        this.onError(name, error);
      }
    }
  }
}
