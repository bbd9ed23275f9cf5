import type { ForbiddenWatch, Handler } from './events.js';

/**
 * - `'active'`: the client keeps the watch and sends it after every reconnect;
 * - `'forbidden'`: the server refused it; it is no longer kept;
 * - `'unwatched'`: `unwatch()` was called.
 */
/** Key of the method the client calls on a refusal; not exported from the package, so apps cannot call it. */
export const markForbidden: unique symbol = Symbol('markForbidden');

export type SubscriptionStatus = 'active' | 'forbidden' | 'unwatched';

/** One `watch(event, payload)` call. Returned by `HubClient.watch()`. */
export class Subscription {
  readonly event: string;
  /** The scope as sent on the wire: a string, or `null` for every payload (wildcard). */
  readonly payload: string | null;
  #status: SubscriptionStatus = 'active';
  #forbiddenHandlers: Handler<ForbiddenWatch>[] = [];
  readonly #release: (subscription: Subscription) => void;

  /** @internal created by `HubClient.watch()` */
  constructor(event: string, payload: string | null, release: (subscription: Subscription) => void) {
    this.event = event;
    this.payload = payload;
    this.#release = release;
  }

  get status(): SubscriptionStatus {
    return this.#status;
  }

  /**
   * Stops watching. The `unwatch` message goes to the server when no other
   * subscription holds the same (event, payload). Calling it again does nothing.
   */
  unwatch(): void {
    if (this.#status !== 'active') return;
    this.#status = 'unwatched';
    this.#forbiddenHandlers = [];
    this.#release(this);
  }

  /**
   * Calls `handler` if the server refuses this watch (also when it refuses it
   * after a reconnect). Returns a function that removes the handler.
   */
  onForbidden(handler: Handler<ForbiddenWatch>): () => void {
    if (this.#status === 'active') this.#forbiddenHandlers.push(handler);
    return () => {
      this.#forbiddenHandlers = this.#forbiddenHandlers.filter((h) => h !== handler);
    };
  }

  /**
   * The server refused the watch. Returns the handlers to call, so the
   * client runs them with its error reporting.
   */
  [markForbidden](): Handler<ForbiddenWatch>[] {
    if (this.#status !== 'active') return [];
    this.#status = 'forbidden';
    const handlers = this.#forbiddenHandlers;
    this.#forbiddenHandlers = [];
    return handlers;
  }
}
