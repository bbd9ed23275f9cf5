import type { ExceptionReply } from '@wshub/core/protocol';

/**
 * Where the client is:
 * - `'connecting'`: the first connection is being made;
 * - `'open'`: connected, watches sent, `send()` writes at once;
 * - `'reconnecting'`: the connection was lost (or never made) and the client
 *   is waiting out the backoff or trying again;
 * - `'closed'`: stopped for good, by `close()`, a stop close code, or
 *   `maxAttempts`.
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Why a connection ended, and what the client does next. */
export interface CloseInfo {
  /** The close code: the server's, or 1006 when the connection dropped or could not be made. */
  code: number;
  reason: string;
  /** Milliseconds until the next attempt, or `null` when the client stopped. */
  retryInMs: number | null;
}

/** A watch the server refused (`canWatch` said no). */
export interface ForbiddenWatch {
  event: string;
  /** The scope as the server normalised it: a string, or `null` for a wildcard. */
  payload: string | null;
}

/** How a reconnect's resume went (message recovery). */
export interface Recovered {
  /** True when every message missed while away was handed to the handlers before this event; false when some were lost (refetch your state). */
  recovered: boolean;
  /** How many missed messages the server replayed. */
  missed: number;
}

/** The client's own events. These names cannot be used for server events. */
export interface ClientEvents {
  /** The connection state changed. */
  state: ConnectionState;
  /** A connection ended (not emitted for `close()`). */
  close: CloseInfo;
  /** The server closed with 4403: `authenticate` refused the client. The client stopped. */
  unauthorized: CloseInfo;
  /** The server ended this session on purpose: 4000 (`hub.disconnect()`) or 4409 (too many sockets of this user; the oldest goes). The client stopped. */
  ended: CloseInfo;
  /** The server refused a watch; the matching subscriptions were removed. */
  forbidden: ForbiddenWatch;
  /** The server answered an invalid request with an `exception` message; the connection stays open. */
  exception: ExceptionReply;
  /**
   * Once per reconnect to a server with message recovery: after the replayed
   * messages were handed to their handlers, before any newer one.
   */
  recovered: Recovered;
  /**
   * Something went wrong that the app should know about: the token provider
   * failed, the server closed with a code that means the client sent
   * something invalid (a {@link ClientBugError}), reconnection gave up, the
   * server sent a frame the client could not read, or an event handler threw.
   */
  error: Error;
}

/** Names a server event map may not use: the client's own events, and the protocol's watch replies. */
export type ReservedEvent = keyof ClientEvents | 'watch' | 'unwatch';

/**
 * An event map: event name → type of the `data` the server sends with it
 * (for incoming maps) or the client sends (for outgoing ones). Reserved names
 * map to `never`, so a map that uses one fails to compile.
 */
export type EventMapOf<E> = { [K in keyof E]: K extends ReservedEvent ? never : unknown };

/** Every event `on()` accepts: the server events of `E` and the client's own. */
export type AllEvents<E> = Omit<E, keyof ClientEvents> & ClientEvents;

/** What a handler gets beside its `data`: the message it came in (for the client's own events, one without `id`). */
export interface ReceivedMessage {
  /**
   * The message's id: every message's when the hub has receipts on (what the
   * server's `'delivered'` reports); with receipts off, the sender's
   * `options.id` when it gave one (a `@wshub/postgres` outbox row's id).
   */
  readonly id: string | undefined;
  /**
   * With `ack: 'manual'`: confirms the message to the hub (its
   * `'delivered'`); with `'auto'` it does nothing (the client confirms once
   * the handlers returned), nor on a message without an id or from a hub
   * with receipts off. Calling it again does nothing.
   */
  ack(): void;
}

export type Handler<T> = (data: T, message: ReceivedMessage) => void;
