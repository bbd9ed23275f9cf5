import { show } from './show.js';

import type { ReceivedMessage } from './events.js';

type AnyHandler = (data: any, message: ReceivedMessage) => void;

/** The message the client's own events come with: no id, nothing to confirm. */
export const NO_MESSAGE: ReceivedMessage = Object.freeze({ id: undefined, ack() {} });

/**
 * A small event emitter keyed by name. Handlers live in a `Map`, so event
 * names such as `__proto__` or `constructor` are plain keys. A handler that
 * throws does not stop the others: the error goes to `onHandlerError`; so
 * does the rejection of an `async` handler, which would otherwise be an
 * unhandled rejection (in Node, the end of the process).
 */
export class Emitter {
  readonly #handlers = new Map<string, AnyHandler[]>();
  readonly #onHandlerError: (error: unknown, event: string) => void;

  constructor(onHandlerError: (error: unknown, event: string) => void) {
    this.#onHandlerError = onHandlerError;
  }

  on(event: string, handler: AnyHandler): void {
    const list = this.#handlers.get(event);
    if (list) list.push(handler);
    else this.#handlers.set(event, [handler]);
  }

  /** Removes one registration of `handler`, or every handler of `event` when none is given. */
  off(event: string, handler?: AnyHandler): void {
    const list = this.#handlers.get(event);
    if (!list) return;
    if (handler) {
      const index = list.indexOf(handler);
      if (index !== -1) list.splice(index, 1);
    }
    if (!handler || list.length === 0) this.#handlers.delete(event);
  }

  /** The events that have handlers. */
  events(): string[] {
    return [...this.#handlers.keys()];
  }

  /** How many handlers `event` has. */
  count(event: string): number {
    return this.#handlers.get(event)?.length ?? 0;
  }

  has(event: string): boolean {
    return this.#handlers.has(event);
  }

  /** Calls the handlers of `event` with `data` (and `message`, for a server event). */
  emit(event: string, data: unknown, message: ReceivedMessage = NO_MESSAGE): void {
    const list = this.#handlers.get(event);
    if (!list) return;
    // A copy, so handlers that add or remove handlers do not skip or repeat any.
    for (const handler of [...list]) {
      try {
        const result: unknown = handler(data, message);
        if (result !== undefined && typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
          (result as PromiseLike<unknown>).then(undefined, (error: unknown) => this.#onHandlerError(error, event));
        }
      } catch (error) {
        this.#onHandlerError(error, event);
      }
    }
  }
}

/**
 * A handler threw. It goes to `'error'`; if that handler is the one that
 * threw, or there is none, it is rethrown outside the client so it is not
 * lost (the page's or process's uncaught-error handling sees it).
 */
export function handlerFailed(emitter: Emitter, error: unknown, event: string): void {
  if (event !== 'error' && emitter.has('error')) {
    const reported = error instanceof Error ? error : new Error(`wshub client: a "${event}" handler threw ${show(error)}`);
    emitter.emit('error', reported);
    return;
  }
  queueMicrotask(() => {
    throw error;
  });
}
