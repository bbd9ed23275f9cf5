import { CONFIRM } from '@wshub/core/protocol';
import type { WebSocketLike } from './websocket.js';
import type { ReceivedMessage } from './events.js';
import type { Handled, HandledIds } from './handled-ids.js';
import { type ConfirmBatchOptions, DEFAULT_CONFIRM_BATCH } from './options.js';

/** WebSocket `readyState` of an open socket. */
const OPEN = 1;

/**
 * Receipts, the client's side: the ids of messages the app handled, sent to
 * the server in `wshub:confirm` frames, at most one frame per `withinMs`
 * (250 ms by default) or as soon as `maxIds` (64) wait. A confirmation
 * after a quiet `withinMs` goes out at the end of the turn, with the others
 * of that turn; one that comes sooner after a frame waits for the rest of
 * the window and goes with every other that came in it. A message now and
 * then is thus confirmed at once, and a busy socket costs the server a few
 * frames a second, not one per message; no confirmation waits longer than
 * `withinMs`. An id is confirmed on the socket that received it, the only
 * one the server takes it from: a batch goes out as soon as an id of
 * another socket comes, and ids whose socket closed before they went out
 * are dropped.
 */
export class Confirmations {
  #socket: WebSocketLike | null = null;
  #ids: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the last frame went to `#socket` (`performance.now()`). */
  #sentAt = Number.NEGATIVE_INFINITY;
  readonly #write: (socket: WebSocketLike, frame: string) => void;
  readonly #withinMs: number;
  readonly #maxIds: number;

  constructor(write: (socket: WebSocketLike, frame: string) => void, batch: Required<ConfirmBatchOptions> = DEFAULT_CONFIRM_BATCH) {
    this.#write = write;
    this.#withinMs = batch.withinMs;
    this.#maxIds = batch.maxIds;
  }

  /** Confirms `id`, which arrived on `socket`, with the others of this batch. */
  add(socket: WebSocketLike | null, id: string): void {
    if (!socket) return;
    if (socket !== this.#socket) {
      this.flush();
      this.#socket = socket;
      this.#sentAt = Number.NEGATIVE_INFINITY;
    }
    this.#ids.push(id);
    if (this.#ids.length >= this.#maxIds) this.flush();
    else if (this.#timer === undefined) {
      // At the end of this turn when the last frame is older than the window; else when the window ends.
      const wait = Math.max(0, this.#sentAt + this.#withinMs - performance.now());
      this.#timer = setTimeout(() => this.flush(), wait);
    }
  }

  /** Sends what is waiting, if its socket is still open. */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const socket = this.#socket;
    const ids = this.#ids;
    if (ids.length === 0) return;
    this.#ids = [];
    if (!socket || socket.readyState !== OPEN) return;
    this.#sentAt = performance.now();
    this.#write(socket, JSON.stringify({ event: CONFIRM, data: { ids } }));
  }
}

/**
 * A server message to the app's handlers, then its confirmation: at once
 * when `ack` is `'auto'` (the handlers returned), or when the app calls
 * `message.ack()` with `'manual'`. A message without an id, or on a
 * connection whose hub has receipts off (`confirm` false), is not confirmed.
 *
 * A message whose id is in `handled` (a second copy) does not reach the
 * handlers again; it is confirmed on its own socket at once when the first
 * copy was, else (`ack: 'manual'`) together with the first copy, when the
 * app acks that.
 */
export function handOut(
  emit: (event: string, data: unknown, message: ReceivedMessage) => void,
  confirmations: Confirmations,
  ack: 'auto' | 'manual',
  socket: WebSocketLike | null,
  event: string,
  data: unknown,
  id: string | undefined,
  confirm: boolean,
  handled: HandledIds,
): void {
  if (id === undefined) {
    emit(event, data, { id, ack() {} });
    return;
  }
  const seen = handled.get(id);
  if (seen) {
    if (!confirm) return;
    if (seen.acked) confirmations.add(socket, id);
    else seen.copy = socket;
    return;
  }
  const acked = !confirm || ack === 'auto';
  // Only an ack to come needs the socket; a kept record then holds no closed socket.
  const record: Handled = { socket: acked ? null : socket, acked, copy: null };
  handled.add(id, record);
  const message: ReceivedMessage = {
    id,
    ack() {
      if (record.acked) return;
      record.acked = true;
      confirmations.add(record.socket, id);
      if (record.copy && record.copy !== record.socket) confirmations.add(record.copy, id);
      record.copy = null;
    },
  };
  emit(event, data, message);
  if (confirm && ack === 'auto') confirmations.add(socket, id);
}
