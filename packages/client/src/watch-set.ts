import type { Subscription } from './subscription.js';

/** One (event, payload) the server should be watching for this client. */
export interface WatchKey {
  event: string;
  payload: string | null;
}

interface Entry extends WatchKey {
  subscriptions: Set<Subscription>;
}

/**
 * The active watches, by (event, payload). Several subscriptions may share a
 * key: the server holds each key once, so the client sends `watch` for the
 * first one and `unwatch` after the last one is gone.
 */
export class WatchSet {
  readonly #entries = new Map<string, Entry>();

  /** Adds `subscription`; true when its key is new (a `watch` must be sent). */
  add(subscription: Subscription): boolean {
    const key = keyOf(subscription.event, subscription.payload);
    const entry = this.#entries.get(key);
    if (entry) {
      entry.subscriptions.add(subscription);
      return false;
    }
    this.#entries.set(key, {
      event: subscription.event,
      payload: subscription.payload,
      subscriptions: new Set([subscription]),
    });
    return true;
  }

  /** Removes `subscription`; true when it was the last of its key (an `unwatch` must be sent). */
  remove(subscription: Subscription): boolean {
    const key = keyOf(subscription.event, subscription.payload);
    const entry = this.#entries.get(key);
    if (!entry?.subscriptions.delete(subscription)) return false;
    if (entry.subscriptions.size > 0) return false;
    this.#entries.delete(key);
    return true;
  }

  /** Removes a key with all its subscriptions and returns them. */
  take(event: string, payload: string | null): Subscription[] {
    const key = keyOf(event, payload);
    const entry = this.#entries.get(key);
    if (!entry) return [];
    this.#entries.delete(key);
    return [...entry.subscriptions];
  }

  /** The subscriptions of a key (none when it is not watched). */
  get(event: string, payload: string | null): Subscription[] {
    const entry = this.#entries.get(keyOf(event, payload));
    return entry ? [...entry.subscriptions] : [];
  }

  /** Every subscription. */
  all(): Subscription[] {
    return [...this.#entries.values()].flatMap((entry) => [...entry.subscriptions]);
  }

  keys(): WatchKey[] {
    return [...this.#entries.values()].map(({ event, payload }) => ({ event, payload }));
  }

  clear(): void {
    this.#entries.clear();
  }
}

// JSON keeps ("a:b", "c") and ("a", "b:c") apart, which joining with a separator would not.
function keyOf(event: string, payload: string | null): string {
  return JSON.stringify([event, payload]);
}
