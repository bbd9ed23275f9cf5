import type { WebSocketLike } from './websocket.js';

/** How many ids of handled messages a client keeps. */
export const HANDLED_IDS = 1000;

/** A message whose handlers ran: on which socket it came, whether it was confirmed, and where a copy of it came since. */
export interface Handled {
  readonly socket: WebSocketLike | null;
  /** Confirmed (or nothing to confirm): a copy is confirmed at once. */
  acked: boolean;
  /** With `ack: 'manual'`, before the ack: the socket of the latest copy, confirmed too once the app acks. */
  copy: WebSocketLike | null;
}

/**
 * The ids of the last {@link HANDLED_IDS} messages whose handlers ran on
 * this client, oldest dropped first: a second copy of one of them (a hub
 * node restarted, or another node sent a dead node's batch again) does not
 * run the handlers again. A copy that comes after that many newer messages
 * with ids is handled again. Messages without an id are not kept.
 */
export class HandledIds {
  readonly #ids = new Map<string, Handled>();
  readonly #max: number;

  constructor(max = HANDLED_IDS) {
    this.#max = max;
  }

  get size(): number {
    return this.#ids.size;
  }

  get(id: string): Handled | undefined {
    return this.#ids.get(id);
  }

  add(id: string, handled: Handled): void {
    if (this.#ids.size >= this.#max) this.#ids.delete(this.#ids.keys().next().value as string);
    this.#ids.set(id, handled);
  }
}
