import type { MessageReceipt } from '../brokers/receipt-tag.js';
import type { HubRequest } from '../config/options.js';

/** A message serialized once, written to many connections. */
export interface PreparedMessage {
  readonly event: string;
  /** The exact frame text: `{"event":…,"data":…}`. */
  readonly text: string;
  /** UTF-8 length of `text`. */
  readonly byteLength: number;
  /** True for the hub's own reply to one socket (acks, forbidden watch, exception), false for deliveries. */
  readonly reply: boolean;
  /** With recovery: the message's place in the history. */
  readonly offset?: number;
  /** The filter it was sent with, unless it went to the whole user; v2 frames carry it as `"scope"`. */
  readonly scope?: true | string;
  /** The same message for v2 clients, its frame carrying `"scope"` and `"offset"` (see `Delivery.forClients`). */
  readonly v2?: PreparedMessage;
  /**
   * The id v2 frames carry as `"id"`: with receipts, every message's; without,
   * only the sender's `options.id` (ordinary sends carry none).
   */
  readonly id?: string;
  /** With receipts: the message's id, the node waiting for its confirmation, and its event. */
  readonly receipt?: MessageReceipt;
}

/** WebSocket `readyState` of an open connection. */
export const OPEN = 1;

/**
 * What a transport gives the hub for one connection: the little the hub
 * needs to write to it and end it. `ws` sockets are adapted in `ws-hub.ts`;
 * `@wshub/testing` adapts an in-memory socket. The hub never touches the
 * transport's socket object otherwise.
 */
export interface Connection {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket values). */
  readonly readyState: number;
  /**
   * Bytes the peer has not drained: written in earlier event-loop turns and
   * still queued. The slow-consumer rule (`limits.maxBufferedBytes`) reads it.
   */
  backlog(): number;
  /**
   * Every byte not yet taken by the peer, this turn's included. After a
   * write that leaves more than `limits.maxBufferedBytes` here, the hub looks
   * at `backlog()` again `drainTimeoutMs` later. Without it, `backlog()` is used.
   */
  buffered?(): number;
  /** Writes one message. May throw; the hub reports it and counts a drop. */
  write(message: PreparedMessage): void;
  /** Sends a close frame; the transport reports the end through {@link Session.closed}. */
  close(code: number, reason: string): void;
  /** Drops the connection at once, without a close frame. */
  terminate(): void;
  /**
   * Stop and restart reading from the peer (TCP backpressure). A transport
   * without them is closed with 4429 when its input queue passes the hard
   * limit instead (see `limits.maxQueuedBytes`).
   */
  pause?(): void;
  resume?(): void;
}

/** What a transport hands `hub.open()` for a new connection. */
export interface OpenOptions<S extends object> {
  /**
   * The object apps see as the socket (`'message'`'s `socket`, `socketsOf()`):
   * the `ws` WebSocket, a fake socket. The hub adds the read-only fields of
   * `HubSocketFields` to it.
   */
  socket: S;
  connection: Connection;
  /** The HTTP upgrade request (or a request-like object), for `authenticate`. */
  request: HubRequest;
  /** The subprotocol the transport selected: `'wshub'` means protocol v2; `''` or absent, v1. */
  protocol?: string;
}

/** What `hub.open()` returns: the calls a transport makes for the rest of the connection. */
export interface Session {
  /**
   * A frame arrived. The promise settles once the hub has handled it (fakes
   * await it; `ws` ignores it); it never rejects.
   */
  receive(data: string | Buffer, isBinary: boolean): Promise<void>;
  /** The connection ended, for any reason. Call it once; later calls do nothing. */
  closed(code: number, reason: string): void;
  /** Whether the hub stopped reading this connection (its input queue is draining): a heartbeat should not judge it meanwhile. */
  readonly paused: boolean;
}
