import type { IncomingMessage } from 'node:http';
import type { Broker } from '../brokers/broker.js';
import type { BrokerBus } from '../brokers/roles.js';
import type { RecoveryLimits } from '../brokers/history.js';
import type { ReceiptLimits, ReceiptOptions } from './receipts.js';
import type { TracingOptions } from './tracing.js';

/** What every user object must carry: `id` groups sockets into a room, `deviceFingerprint` names one device. */
export interface HubUser {
  id: string;
  deviceFingerprint: string;
  /**
   * When the session ends unless refreshed, in ms since the epoch (e.g. a
   * JWT's `exp * 1000`). Past it the socket closes with 4401. Optional: a
   * user without it never expires.
   */
  expiresAt?: number;
}

/** Argument of `refresh`. */
export interface RefreshContext<User extends HubUser, Socket> {
  /** The token the client sent. */
  token: string;
  /** The socket's user now. */
  user: User;
  socket: Socket;
}

/** The request the hub hands to `authenticate`: the HTTP upgrade request, or a request-like object in fakes. */
export type HubRequest = IncomingMessage;

/** Argument of `canWatch`. */
export interface WatchContext<User extends HubUser, Socket> {
  user: User;
  userId: string;
  event: string;
  /** The scope, as a string, or `null` for a wildcard watch. */
  payload: string | null;
  socket: Socket;
}

/**
 * Limits on everything a client can make the server hold. Each has a
 * default; the table in `docs/PROTOCOL.md` says what happens past each one.
 */
export interface HubLimits {
  /**
   * Largest message accepted from a client, in bytes; larger closes with 1009.
   * @default 65536 (64 KiB)
   */
  maxPayload?: number;
  /**
   * Fragments one client message may arrive in; one more closes with 1008.
   * Browsers and `ws` send every message in one frame.
   * @default 16
   */
  maxFragments?: number;
  /**
   * Sockets whose `authenticate` may be pending at once on this hub; further
   * upgrades are answered with HTTP 503 (`Retry-After: 1`) before a
   * WebSocket exists.
   * @default 1000
   */
  maxPendingSockets?: number;
  /**
   * Frames kept while `authenticate` is pending; one more closes with 4429.
   * Watch/unwatch frames up to 1 KiB have their own budget (twice
   * `maxWatchesPerSocket`), so re-sent watches after a reconnect never count here.
   * @default 32
   */
  maxPendingMessages?: number;
  /**
   * Bytes of frames kept while `authenticate` is pending, watch frames
   * included; a frame that would pass it closes with 4429.
   * @default 131072 (128 KiB)
   */
  maxPendingBytes?: number;
  /**
   * Bytes of frames an authorized socket may have waiting behind an
   * unfinished async `canWatch`. Past it the hub stops reading the socket
   * (TCP backpressure) until the queue drains; a transport that cannot stop
   * reading is closed with 4429 at four times this.
   * @default 65536 (64 KiB)
   */
  maxQueuedBytes?: number;
  /**
   * Frames an authorized socket may have waiting, counted like
   * `maxQueuedBytes` (reads pause past it, 4429 at four times it).
   * @default 1024
   */
  maxQueuedMessages?: number;
  /**
   * Frames per second an authorized socket may send on average (a token
   * bucket of `messageBurst` tokens); over it closes with 4429. 0 turns the
   * rate limit off.
   * @default 100
   */
  messageRate?: number;
  /**
   * Frames an authorized socket may send at once before `messageRate` applies.
   * @default 256
   */
  messageBurst?: number;
  /**
   * Distinct (event, payload) watches per socket; one more gets an exception reply.
   * @default 128
   */
  maxWatchesPerSocket?: number;
  /**
   * Bytes a socket may leave undrained: when a message is due and more than
   * this is still queued from earlier event-loop turns, the client is not
   * reading and is cut off (reported as 4008). Bytes written in the current
   * turn do not count, so a burst never cuts a client that reads; a write
   * that leaves more than this queued is judged again `drainTimeoutMs`
   * later, so a burst to a client that stopped reading is cut even when no
   * message follows. A resume whose replay would be larger is answered
   * `failed`. No single message may be larger: `sendMessage`/`push` refuse
   * one with a RangeError.
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Users whose `allow` / data callbacks of one `push` run at the same time.
   * @default 128
   */
  pushConcurrency?: number;
  /**
   * Sockets one user may hold on this node; the oldest is closed with 4409
   * when another one is authorized.
   * @default 100
   */
  maxSocketsPerUser?: number;
  /**
   * Resumes (message recovery) one user may have answered on this node per
   * minute, over all their connections: at most this many at once, refilled
   * evenly over a minute. Past it a resume is answered `failed` (the client
   * refetches its state) and nothing is replayed.
   * @default 30
   */
  resumesPerUser?: number;
}

/** `recovery` as an object: each field has a default. */
export interface RecoveryOptions {
  /**
   * Messages kept per user, and for broadcasts; a resume from further back is answered `failed`.
   * @default 100
   */
  maxMessages?: number;
  /**
   * How long a message is kept, in ms.
   * @default 300000 (5 min)
   */
  ttlMs?: number;
  /**
   * Users whose history the hub keeps at once (single node, and the
   * `WorkerRelay`'s history of `node:cluster` workers; a Redis history has
   * bounds of its own). Past it the history of the user
   * who got nothing for the longest goes whole: that user's resume is
   * answered `failed`.
   * @default 100000
   */
  maxUsers?: number;
  /**
   * Estimated bytes of every kept message together (text plus about 150
   * bytes each), users and broadcasts (single node, and the `WorkerRelay`'s
   * history). Past it the histories
   * of the users idle longest go whole, as past `maxUsers`.
   * @default 67108864 (64 MiB)
   */
  maxBytes?: number;
}

export interface HubOptions<User extends HubUser, Socket = unknown> {
  /**
   * The path the hub serves.
   * @default '/api/v1/ws'
   */
  path?: string;
  /**
   * Decides who the connecting client is, from the HTTP upgrade request.
   * Return (or resolve) the user to accept; throw (or reject) to refuse with 4403.
   */
  authenticate(request: HubRequest): User | Promise<User>;
  /**
   * Decides whether a socket may watch an event (and scope). Returning false,
   * or throwing, sends the forbidden reply to the requesting socket; a throw
   * is also reported through `'error'`.
   * @default every watch is allowed
   */
  canWatch?(context: WatchContext<User, Socket>): boolean | Promise<boolean>;
  /**
   * Checks a token a v2 client sends on its open socket before its session
   * expires (`@wshub/client` does so on its own, with its `token` option).
   * Return (or resolve) the user with a new `expiresAt`: it replaces the
   * socket's user; watches and deliveries go on. A user whose other fields
   * changed too (a role taken away) replaces the user on every socket of
   * that user on every node, and in the cluster's presence, as `updateUser` does. It must be the same user
   * (`id`); another id, a throw, a rejection, or no answer within
   * `authTimeoutMs` closes the socket with 4403.
   * @default refreshing is off: sessions with an `expiresAt` end at it
   */
  refresh?(context: RefreshContext<User, Socket>): User | Promise<User>;
  /**
   * How long before `expiresAt` a v2 client is told to refresh (at most half
   * the session's remaining life).
   * @default 30000
   */
  refreshAheadMs?: number;
  /**
   * Turns message data into something `JSON.stringify` can write, once per
   * message (once per user when push data is a callback).
   * @default identity
   */
  serialize?(data: unknown): unknown;
  /**
   * Carries effects to other nodes: a `Broker` (its bus, presence and
   * history), or a `BrokerBus` alone (presence and history stay this
   * node's). The default is in-process (single node).
   */
  broker?: Broker | BrokerBus;
  /**
   * Browser origins allowed to connect. An array is an exact-match list (a
   * request without `Origin`, i.e. not from a browser, is allowed); a function
   * decides itself and receives `undefined` when there is no `Origin`.
   * @default every origin is allowed
   */
  allowedOrigins?: string[] | ((origin: string | undefined) => boolean);
  /**
   * Time `authenticate` has to settle before the socket closes with 4408.
   * @default 10000
   */
  authTimeoutMs?: number;
  /**
   * Time an async `canWatch` has to settle; no answer counts as a refusal
   * (and is reported through `'error'`), so one stuck check cannot hold up
   * the socket's later frames.
   * @default 10000
   */
  watchTimeoutMs?: number;
  /**
   * Interval between pings; a socket that has not answered the previous one
   * is terminated. 0 turns the heartbeat off.
   * @default 30000
   */
  heartbeatMs?: number;
  /**
   * Time an authorized socket's reads may stay paused (its queue of frames
   * behind a slow async `canWatch` past `limits.maxQueuedBytes` or
   * `maxQueuedMessages`) before it is closed with 4429 `queued messages not
   * handled in time`. The heartbeat does not judge a paused socket, and each
   * queued frame may wait `watchTimeoutMs`: without this, hours.
   * @default 60000
   */
  pauseTimeoutMs?: number;
  /**
   * Time after a write that left more than `limits.maxBufferedBytes` queued
   * on a socket before the hub looks again: still more than that undrained
   * then, the client is not reading and is cut off (reported as 4008). A
   * client that reads drains a burst well within it.
   * @default 1000
   */
  drainTimeoutMs?: number;
  /**
   * Time a `push` `allow` or data callback has to settle for one user; no
   * answer skips that user (reported through `'error'`), so `push()` always
   * settles.
   * @default 10000
   */
  pushTimeoutMs?: number;
  /**
   * Message recovery: keep a history of what was delivered to each user, so
   * a v2 client that reconnects gets what it missed (or is told it cannot).
   * `true` takes the defaults. Off by default; costs about 150 bytes plus the
   * message text per kept message.
   * @default false
   */
  recovery?: boolean | RecoveryOptions;
  /** Receipts: `'delivered'` per device that confirms a message, `'undelivered'` when none does in time. Off by default. */
  receipts?: boolean | ReceiptOptions;
  /**
   * Time a socket the hub closed has to answer the close frame before it is
   * terminated (what it sends meanwhile is discarded).
   * @default 2000
   */
  closeTimeoutMs?: number;
  /**
   * OpenTelemetry spans (docs/OBSERVABILITY.md): they are made when the app
   * has `@opentelemetry/api` and registered a tracer provider. This says
   * whether spans name the user.
   * @default { userIds: 'omit' }
   */
  tracing?: TracingOptions;
  limits?: HubLimits;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  path: string;
  authTimeoutMs: number;
  watchTimeoutMs: number;
  heartbeatMs: number;
  pushTimeoutMs: number;
  closeTimeoutMs: number;
  refreshAheadMs: number;
  drainTimeoutMs: number;
  pauseTimeoutMs: number;
  /** Undefined when recovery is off. */
  recovery: RecoveryLimits | undefined;
  receipts: ReceiptLimits | undefined;
  limits: Required<HubLimits>;
}

export const DEFAULT_LIMITS: Readonly<Required<HubLimits>> = Object.freeze({
  maxPayload: 64 * 1024,
  maxFragments: 16,
  maxPendingSockets: 1000,
  maxPendingMessages: 32,
  maxPendingBytes: 128 * 1024,
  maxQueuedBytes: 64 * 1024,
  maxQueuedMessages: 1024,
  messageRate: 100,
  messageBurst: 256,
  maxWatchesPerSocket: 128,
  maxBufferedBytes: 1024 * 1024,
  pushConcurrency: 128,
  maxSocketsPerUser: 100,
  resumesPerUser: 30,
});

export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;
export const DEFAULT_WATCH_TIMEOUT_MS = 10_000;
export const DEFAULT_HEARTBEAT_MS = 30_000;
export const DEFAULT_PUSH_TIMEOUT_MS = 10_000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 2_000;
export const DEFAULT_REFRESH_AHEAD_MS = 30_000;
export const DEFAULT_DRAIN_TIMEOUT_MS = 1_000;
export const DEFAULT_PAUSE_TIMEOUT_MS = 60_000;
/** Defaults of `recovery: true`. */
export const DEFAULT_RECOVERY: Readonly<RecoveryLimits> = Object.freeze({
  maxMessages: 100,
  ttlMs: 300_000,
  maxUsers: 100_000,
  maxBytes: 64 * 1024 * 1024,
});
