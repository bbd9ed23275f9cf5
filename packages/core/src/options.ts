import type { IncomingMessage } from 'node:http';
import type { Broker } from './broker.js';
import { DEFAULT_PATH } from './protocol.js';

/** What every user object must carry: `id` groups sockets into a room, `deviceFingerprint` names one device. */
export interface HubUser {
  id: string;
  deviceFingerprint: string;
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

/** Limits that protect the hub from misbehaving clients. Each has a default. */
export interface HubLimits {
  /**
   * Largest frame accepted from a client, in bytes; larger closes with 1009.
   * @default 65536 (64 KiB)
   */
  maxPayload?: number;
  /**
   * Frames kept while `authenticate` is pending; one more closes with 4429.
   * Watch/unwatch frames up to 1 KiB have their own budget (twice
   * `maxWatchesPerSocket`), so re-sent watches after a reconnect never count here.
   * @default 32
   */
  maxPendingMessages?: number;
  /**
   * Distinct (event, payload) watches per socket; one more gets an exception reply.
   * @default 128
   */
  maxWatchesPerSocket?: number;
  /**
   * Bytes a socket may have queued for sending; a write that would pass it
   * cuts the socket off with 4008.
   * @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Users whose `allow` / data callbacks of one `push` run at the same time.
   * @default 128
   */
  pushConcurrency?: number;
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
   * Turns message data into something `JSON.stringify` can write, once per
   * message (once per user when push data is a callback).
   * @default identity
   */
  serialize?(data: unknown): unknown;
  /**
   * Carries effects to other nodes. The default is in-process (single node).
   */
  broker?: Broker;
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
  limits?: HubLimits;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  path: string;
  authTimeoutMs: number;
  watchTimeoutMs: number;
  heartbeatMs: number;
  limits: Required<HubLimits>;
}

export const DEFAULT_LIMITS: Readonly<Required<HubLimits>> = Object.freeze({
  maxPayload: 64 * 1024,
  maxPendingMessages: 32,
  maxWatchesPerSocket: 128,
  maxBufferedBytes: 1024 * 1024,
  pushConcurrency: 128,
});

export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;
export const DEFAULT_WATCH_TIMEOUT_MS = 10_000;
export const DEFAULT_HEARTBEAT_MS = 30_000;

function positiveInteger(name: string, value: unknown, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || (!allowZero && value === 0)) {
    throw new TypeError(
      `wshub: option "${name}" must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(value)}`,
    );
  }
  return value;
}

/** Validates options and fills in defaults; misuse fails at once with a TypeError naming the option. */
export function resolveOptions(options: HubOptions<HubUser, unknown>): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('wshub: options must be an object with at least an "authenticate" function');
  }
  if (typeof options.authenticate !== 'function') {
    throw new TypeError(`wshub: option "authenticate" must be a function, got ${typeof options.authenticate}`);
  }
  for (const hook of ['canWatch', 'serialize'] as const) {
    if (options[hook] !== undefined && typeof options[hook] !== 'function') {
      throw new TypeError(`wshub: option "${hook}" must be a function, got ${typeof options[hook]}`);
    }
  }
  const path = options.path ?? DEFAULT_PATH;
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TypeError(`wshub: option "path" must be a string starting with "/", got ${JSON.stringify(path)}`);
  }
  const origins = options.allowedOrigins;
  if (
    origins !== undefined &&
    typeof origins !== 'function' &&
    !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))
  ) {
    throw new TypeError('wshub: option "allowedOrigins" must be an array of strings or a function');
  }
  const limits = options.limits ?? {};
  return {
    path,
    authTimeoutMs: positiveInteger('authTimeoutMs', options.authTimeoutMs, DEFAULT_AUTH_TIMEOUT_MS),
    watchTimeoutMs: positiveInteger('watchTimeoutMs', options.watchTimeoutMs, DEFAULT_WATCH_TIMEOUT_MS),
    heartbeatMs: positiveInteger('heartbeatMs', options.heartbeatMs, DEFAULT_HEARTBEAT_MS, true),
    limits: {
      maxPayload: positiveInteger('limits.maxPayload', limits.maxPayload, DEFAULT_LIMITS.maxPayload),
      maxPendingMessages: positiveInteger(
        'limits.maxPendingMessages',
        limits.maxPendingMessages,
        DEFAULT_LIMITS.maxPendingMessages,
        true,
      ),
      maxWatchesPerSocket: positiveInteger(
        'limits.maxWatchesPerSocket',
        limits.maxWatchesPerSocket,
        DEFAULT_LIMITS.maxWatchesPerSocket,
      ),
      maxBufferedBytes: positiveInteger(
        'limits.maxBufferedBytes',
        limits.maxBufferedBytes,
        DEFAULT_LIMITS.maxBufferedBytes,
      ),
      pushConcurrency: positiveInteger('limits.pushConcurrency', limits.pushConcurrency, DEFAULT_LIMITS.pushConcurrency),
    },
  };
}
