import type { ForbiddenWatch, Handler } from './events.js';

/**
 * - `'active'`: the client keeps the watch and sends it after every reconnect;
 * - `'forbidden'`: the server refused it; it is no longer kept;
 * - `'unwatched'`: `unwatch()` was called.
 */
/** Keys of the methods the client calls on server answers; not exported from the package, so apps cannot call them. */
export const markForbidden: unique symbol = Symbol('markForbidden');
export const markConfirmed: unique symbol = Symbol('markConfirmed');
export const markUnconfirmed: unique symbol = Symbol('markUnconfirmed');

export type SubscriptionStatus = 'active' | 'forbidden' | 'unwatched';

/** One `watch(event, payload)` call. Returned by `HubClient.watch()`. */
export class Subscription {
  readonly event: string;
  /** The scope as sent on the wire: a string, or `null` for every payload (wildcard). */
  readonly payload: string | null;
  #status: SubscriptionStatus = 'active';
  #confirmed = false;
  #waiters: Array<(confirmed: boolean) => void> = [];
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
   * True while the server has confirmed this watch on the current
   * connection: set when its answer (protocol v2) says allowed, cleared when
   * the connection drops, set again when the re-sent watch is confirmed.
   */
  get confirmed(): boolean {
    return this.#confirmed;
  }

  /**
   * Resolves `true` once the server has confirmed the watch (at once if it
   * already is), or `false` if it is refused, unwatched, or the client
   * closes first. Never rejects.
   */
  whenConfirmed(): Promise<boolean> {
    if (this.#confirmed) return Promise.resolve(true);
    if (this.#status !== 'active') return Promise.resolve(false);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #settle(confirmed: boolean): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resolve of waiters) resolve(confirmed);
  }

  /** The server confirmed the watch on this connection. */
  [markConfirmed](): void {
    if (this.#status !== 'active') return;
    this.#confirmed = true;
    this.#settle(true);
  }

  /** The connection dropped, or the client closed (`final`): the watch is no longer confirmed. */
  [markUnconfirmed](final = false): void {
    this.#confirmed = false;
    if (final) this.#settle(false);
  }

  /**
   * Stops watching. The `unwatch` message goes to the server when no other
   * subscription holds the same (event, payload). Calling it again does nothing.
   */
  unwatch(): void {
    if (this.#status !== 'active') return;
    this.#status = 'unwatched';
    this.#confirmed = false;
    this.#forbiddenHandlers = [];
    this.#settle(false);
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
    this.#confirmed = false;
    this.#settle(false);
    const handlers = this.#forbiddenHandlers;
    this.#forbiddenHandlers = [];
    return handlers;
  }
}
