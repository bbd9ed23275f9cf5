import { CONFIRM, MAX_CONFIRM_IDS } from '@wshub/core/protocol';
import type { WebSocketLike } from './websocket.js';
import type { ReceivedMessage } from './events.js';

/** WebSocket `readyState` of an open socket. */
const OPEN = 1;

/**
 * Receipts, the client's side: the ids of messages the app handled, sent to
 * the server in one `wshub:confirm` frame per turn of the event loop (at
 * most `MAX_CONFIRM_IDS` ids a frame). An id is confirmed on the socket
 * that received it, the only one the server takes it from: ids whose socket
 * closed before they went out are dropped.
 */
export class Confirmations {
  #socket: WebSocketLike | null = null;
  #ids: string[] = [];
  #scheduled = false;
  readonly #write: (socket: WebSocketLike, frame: string) => void;

  constructor(write: (socket: WebSocketLike, frame: string) => void) {
    this.#write = write;
  }

  /** Confirms `id`, which arrived on `socket`, with the others of this turn. */
  add(socket: WebSocketLike | null, id: string): void {
    if (!socket) return;
    if (socket !== this.#socket) this.flush();
    this.#socket = socket;
    this.#ids.push(id);
    if (this.#ids.length >= MAX_CONFIRM_IDS) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setTimeout(() => this.flush(), 0);
    }
  }

  /** Sends what is waiting, if its socket is still open. */
  flush(): void {
    this.#scheduled = false;
    const socket = this.#socket;
    const ids = this.#ids;
    this.#ids = [];
    if (!socket || ids.length === 0 || socket.readyState !== OPEN) return;
    this.#write(socket, JSON.stringify({ event: CONFIRM, data: { ids } }));
  }
}

/**
 * A server message to the app's handlers, then its confirmation: at once
 * when `ack` is `'auto'` (the handlers returned), or when the app calls
 * `message.ack()` with `'manual'`. A message without an id (a hub without
 * receipts) is not confirmed.
 */
export function handOut(
  emit: (event: string, data: unknown, message: ReceivedMessage) => void,
  confirmations: Confirmations,
  ack: 'auto' | 'manual',
  socket: WebSocketLike | null,
  event: string,
  data: unknown,
  id: string | undefined,
): void {
  let acked = id === undefined || ack === 'auto';
  const message: ReceivedMessage = {
    id,
    ack() {
      if (acked) return;
      acked = true;
      confirmations.add(socket, id as string);
    },
  };
  emit(event, data, message);
  if (id !== undefined && ack === 'auto') confirmations.add(socket, id);
}
