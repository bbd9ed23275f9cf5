import type { ReceivedMessage } from '../events.js';

/**
 * Messages a shared connection with `ack: 'manual'` handed to tabs and
 * waits for one of them to `ack()`: the first tab's confirms it to the
 * server, once; the others' find it gone and do nothing. Bounded: past
 * {@link MAX_PENDING_ACKS} the oldest is forgotten (never confirmed, so the
 * hub may report it `'undelivered'`), and a socket that closes takes its
 * messages along (a confirmation goes only on the socket that got the message).
 */
export const MAX_PENDING_ACKS = 1024;

export class PendingAcks {
  readonly #waiting = new Map<string, ReceivedMessage>();

  /** `message` went to at least one tab: the first tab's ack confirms it. */
  hold(message: ReceivedMessage): void {
    if (message.id === undefined) return;
    this.#waiting.delete(message.id);
    this.#waiting.set(message.id, message);
    if (this.#waiting.size > MAX_PENDING_ACKS) {
      const oldest = this.#waiting.keys().next().value as string;
      this.#waiting.delete(oldest);
    }
  }

  /** A tab acked `id`: confirmed if it waits (the first tab's), ignored otherwise (unknown, forged or already confirmed). */
  ack(id: unknown): void {
    if (typeof id !== 'string') return;
    const message = this.#waiting.get(id);
    if (!message) return;
    this.#waiting.delete(id);
    message.ack();
  }

  /** The socket closed: what it got can no longer be confirmed. */
  clear(): void {
    this.#waiting.clear();
  }

}
