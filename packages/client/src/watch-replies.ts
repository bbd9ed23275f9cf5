import { type Ack, WATCH } from '@wshub/core/protocol';
import { type Emitter, handlerFailed, NO_MESSAGE } from './emitter.js';
import type { ForbiddenWatch } from './events.js';
import { clip } from './incoming.js';
import { markConfirmed, markForbidden } from './subscription.js';
import type { WatchKey, WatchSet } from './watch-set.js';

/**
 * The server's answers to this client's watches: the watches in flight on
 * the current connection by request id, so an answer confirms or refuses
 * the subscriptions of its key.
 */
export class WatchReplies {
  readonly #watches: WatchSet;
  readonly #emitter: Emitter;
  readonly #report: (error: Error) => void;
  readonly #inFlight = new Map<number, WatchKey>();

  constructor(watches: WatchSet, emitter: Emitter, report: (error: Error) => void) {
    this.#watches = watches;
    this.#emitter = emitter;
    this.#report = report;
  }

  /** A watch went out with request `id`. */
  sent(id: number, event: string, payload: string | null): void {
    this.#inFlight.set(id, { event, payload });
  }

  /** The connection closed: its requests will never be answered. */
  clear(): void {
    this.#inFlight.clear();
  }

  /** The server's answer (request `id`) to a watch or unwatch of this connection. */
  onAck(id: number, ack: Ack): void {
    const key = this.#inFlight.get(id);
    this.#inFlight.delete(id);
    if (!key || ack.op !== WATCH) return;
    if (ack.status === 'allowed') {
      for (const subscription of this.#watches.get(key.event, key.payload)) subscription[markConfirmed]();
    } else if (ack.status === 'forbidden') {
      this.onForbidden({ event: key.event, payload: key.payload });
    } else {
      // Invalid or over the server's watch limit: said as v1 says it.
      this.#emitter.emit('exception', { status: 'error', message: String(ack.message ?? 'invalid watch') });
    }
  }

  /** The server refused a watch (a v2 answer, or v1's `watch` frame with `forbidden: true`). */
  onForbidden(data: Record<string, unknown>): void {
    if (typeof data.event !== 'string') {
      const frame = clip(JSON.stringify(data));
      this.#report(new Error(`wshub client: the server sent a forbidden watch reply without a string "event": ${frame}`));
      return;
    }
    const refused: ForbiddenWatch = {
      event: data.event,
      payload: data.payload === undefined || data.payload === null ? null : String(data.payload),
    };
    for (const subscription of this.#watches.take(refused.event, refused.payload)) {
      for (const handler of subscription[markForbidden]()) {
        try {
          handler(refused, NO_MESSAGE);
        } catch (error) {
          handlerFailed(this.#emitter, error, 'forbidden');
        }
      }
    }
    this.#emitter.emit('forbidden', refused);
  }
}
