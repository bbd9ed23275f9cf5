/**
 * The wshub wire protocol: close codes, reserved event names and the rules
 * for client frames. This module is browser-safe (no Node.js imports) so that
 * `@wshub/client` can share it through `@wshub/core/protocol`.
 *
 * The prose version of everything here is `docs/PROTOCOL.md`.
 */

/** Default path the hub serves, as in the module wshub replaces. */
export const DEFAULT_PATH = '/api/v1/ws';

/**
 * The subprotocol the hub selects when a client offers it, and with it
 * protocol v2 (see {@link PROTOCOL_VERSION}). A client that passes a token in
 * `Sec-WebSocket-Protocol` offers `['wshub', token]`; the hub answers `wshub`
 * and never echoes the token back. A client that offers nothing speaks v1:
 * the frames of `@kovalenko/nestjs-websocket`, unchanged.
 */
export const SUBPROTOCOL = 'wshub';

/**
 * Protocol v2 adds, for clients that offered {@link SUBPROTOCOL}: a
 * {@link WELCOME} once the socket is authorized, and an {@link ACK} for every
 * watch and unwatch, matched to the request by the `id` the client chose.
 */
export const PROTOCOL_VERSION = 2;

/** Event names of the hub's own v2 frames start with this; the hub refuses to send app events that do. */
export const RESERVED_PREFIX = 'wshub:';
/** v2: the socket is authorized; `data` is a {@link Welcome}. */
export const WELCOME = 'wshub:welcome';
/** v2: the answer to one watch, unwatch or resume; `data` is an {@link Ack}. */
export const ACK = 'wshub:ack';
/**
 * v2, client → server: replay what this user missed since `data` (a
 * {@link Position}: the epoch and the last offset the client got). Answered
 * with the missed messages, then an {@link Ack} with `op: 'resume'`.
 */
export const RESUME = 'wshub:resume';
/**
 * v2, server → client: the session expires at `data.expiresAt` (ms since
 * the epoch); send a {@link REFRESH} with a fresh token before then.
 */
export const EXPIRING = 'wshub:expiring';
/** v2, client → server: `data` is `{ "token": string }`, checked by the server's `refresh` hook. Answered with an {@link Ack} `op: 'refresh'`. */
export const REFRESH = 'wshub:refresh';
/**
 * v2, client → server: `data` is `{ "ids": string[] }`, the ids of messages
 * the client handled (see receipts). No answer; unknown ids are ignored.
 */
export const CONFIRM = 'wshub:confirm';
/** Most ids one {@link CONFIRM} frame may carry. */
export const MAX_CONFIRM_IDS = 256;
/** Longest token a refresh may carry, in characters. */
export const MAX_TOKEN_LENGTH = 8192;
/** Longest string request id a v2 client may choose. */
export const MAX_REQUEST_ID_LENGTH = 64;

/** Event names with a meaning of their own in the protocol. */
export const WATCH = 'watch';
export const UNWATCH = 'unwatch';
export const EXCEPTION = 'exception';

/** Longest event name accepted in a watch/unwatch body. */
export const MAX_WATCH_EVENT_LENGTH = 200;
/** Longest scope (payload) accepted in a watch/unwatch body. */
export const MAX_WATCH_PAYLOAD_LENGTH = 200;

/**
 * Every close code the hub sends. The table in `docs/PROTOCOL.md` says which
 * ones a client should reconnect after.
 */
export enum CloseCode {
  /** The server is shutting down (`hub.close()`); reconnect with backoff. */
  GoingAway = 1001,
  /** The server is restarting (`hub.close({ drainMs })`, a rolling deploy): reconnect soon, with jitter, and resume. */
  ServiceRestart = 1012,
  /** Sent by `ws`: a frame broke RFC 6455 (bad opcode, unmasked, bad close code). A client bug. */
  ProtocolError = 1002,
  /** A binary frame arrived; the protocol is text-only. Do not reconnect as is. */
  UnsupportedData = 1003,
  /** Sent by `ws`: a text frame was not valid UTF-8. A client bug. */
  InvalidPayload = 1007,
  /** Sent by `ws`: a message came in more than `limits.maxFragments` fragments. A client bug. */
  PolicyViolation = 1008,
  /** A message was larger than `limits.maxPayload`. */
  MessageTooBig = 1009,
  /** `hub.disconnect()`: the server ended this session on purpose. Do not reconnect. */
  DisconnectedByServer = 4000,
  /** The session expired (the user's `expiresAt` passed without a refresh). Reconnect with a fresh token. */
  SessionExpired = 4401,
  /** The user opened more than `limits.maxSocketsPerUser` sockets; this, the oldest, was closed. Do not reconnect. */
  TooManySockets = 4409,
  /** The client did not read fast enough (`limits.maxBufferedBytes`). */
  SlowConsumer = 4008,
  /** A frame was not valid JSON or not `{ "event": string, "data"?: any }`. */
  BadRequest = 4400,
  /** `authenticate` refused the connection. Do not reconnect with the same credentials. */
  Forbidden = 4403,
  /** `authenticate` did not answer within `authTimeoutMs`. */
  AuthTimeout = 4408,
  /**
   * Too much at once: over `maxPendingMessages`/`maxPendingBytes` before auth
   * settled, over `messageRate`, a queue past four times
   * `maxQueuedMessages`/`maxQueuedBytes`, or reads paused behind that queue
   * for `pauseTimeoutMs`. The reason says which. Reconnect with backoff.
   */
  TooManyRequests = 4429,
}

/**
 * Close reasons: short fixed tokens (under 123 bytes, as RFC 6455 requires),
 * never the text of an exception.
 */
export const CloseReason = {
  [CloseCode.GoingAway]: 'server shutting down',
  [CloseCode.ServiceRestart]: 'server restarting',
  [CloseCode.ProtocolError]: 'protocol error',
  [CloseCode.UnsupportedData]: 'binary frames are not supported',
  [CloseCode.InvalidPayload]: 'invalid UTF-8',
  [CloseCode.PolicyViolation]: 'too many fragments',
  [CloseCode.MessageTooBig]: 'message too big',
  [CloseCode.DisconnectedByServer]: 'disconnected by server: do not reconnect',
  [CloseCode.SessionExpired]: 'session expired',
  [CloseCode.TooManySockets]: 'too many sockets for this user',
  [CloseCode.SlowConsumer]: 'slow consumer',
  [CloseCode.BadRequest]: 'invalid message',
  [CloseCode.Forbidden]: 'unauthorized',
  [CloseCode.AuthTimeout]: 'authentication timeout',
  [CloseCode.TooManyRequests]: 'too many messages before authentication',
} as const satisfies Record<CloseCode, string>;

/** The 4429 reason when a socket sends faster than `limits.messageRate`. */
export const RATE_LIMIT_REASON = 'message rate exceeded';
/** The 4429 reason when a socket's queue passes four times `maxQueuedMessages`/`maxQueuedBytes`. */
export const QUEUE_LIMIT_REASON = 'too many queued messages';
/** The 4429 reason when a socket's reads stayed paused (its queue not drained) for `pauseTimeoutMs`. */
export const QUEUE_TIMEOUT_REASON = 'queued messages not handled in time';

/** What a client should do after the server closed with `code`. */
export type ClosePolicy = 'reconnect' | 'stop' | 'bug';

/**
 * The reconnect policy of `docs/PROTOCOL.md`, in one place. Codes not listed
 * (e.g. 1006, a dropped connection) are treated as transient.
 */
export function closePolicy(code: number): ClosePolicy {
  switch (code) {
    case CloseCode.Forbidden:
    case CloseCode.DisconnectedByServer:
    case CloseCode.TooManySockets:
      return 'stop';
    case CloseCode.BadRequest:
    case CloseCode.ProtocolError:
    case CloseCode.UnsupportedData:
    case CloseCode.InvalidPayload:
    case CloseCode.PolicyViolation:
    case CloseCode.MessageTooBig:
      return 'bug';
    default:
      return 'reconnect';
  }
}

/** A frame the server sends: `{ "event": string, "data": any }`. */
export interface ServerMessage<E extends string = string, D = unknown> {
  event: E;
  data: D;
}

/** A frame a client sends. `id` is read on v2 watch/unwatch frames only. */
export interface ClientMessage<E extends string = string, D = unknown> {
  event: E;
  data?: D;
  id?: RequestId;
}

/** What a v2 client may use to match an {@link Ack} to its request. */
export type RequestId = number | string;

/** `data` of {@link WELCOME}: sent once, when the socket is authorized. */
export interface Welcome {
  protocol: typeof PROTOCOL_VERSION;
  /** With message recovery on: where this client starts (keep it, and resume from it after a reconnect). */
  recovery?: Position;
  /**
   * `false` when the hub has receipts off: the ids some frames carry (the
   * sender's `options.id`) are for dropping a repeat, not to be confirmed.
   * Absent when receipts are on.
   */
  receipts?: false;
}

/** A place in the hub's message history: which history (`epoch`) and the last offset seen in it. */
export interface Position {
  epoch: string;
  offset: number;
}

/**
 * `data` of {@link ACK}. For `watch`: `allowed` (registered, or already
 * was), `forbidden` (`canWatch` said no, threw, or did not answer in time),
 * `invalid` (bad body or over the watch limit; `message` says which). For
 * `unwatch`: `removed` (whether or not it was watched) or `invalid`. `event`
 * and `payload` are the normalised scope when the body was valid.
 */
export interface Ack {
  id?: RequestId;
  op: typeof WATCH | typeof UNWATCH | 'resume' | 'refresh';
  status: 'allowed' | 'forbidden' | 'invalid' | 'removed' | 'recovered' | 'failed' | 'unavailable' | 'refreshed';
  event?: string;
  payload?: string | null;
  message?: string;
  /** `resume`: how many messages were replayed before this answer. */
  missed?: number;
  /** `resume` (`recovered` or `failed`): the position to keep from now on. */
  epoch?: string;
  offset?: number;
  /** `refresh` (`refreshed`): when the session now expires (ms since the epoch), if it does. */
  expiresAt?: number;
}

/** Body of `watch` / `unwatch`. */
export interface WatchBody {
  event: string;
  payload?: string | number | null;
}

/** The reply to a refused watch, sent to the requesting socket only. */
export interface ForbiddenWatchReply {
  event: string;
  payload: string | null;
  forbidden: true;
}

/** The reply to an invalid request on an open socket. */
export interface ExceptionReply {
  status: 'error';
  message: string;
}

/** Result of {@link parseClientMessage}. `id` is the frame's own `id` field, unchecked. */
export type ParsedFrame =
  | { ok: true; event: string; data: unknown; id: unknown }
  | { ok: false; reason: string };

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Parses one text frame. A frame that is not JSON, not an object, or has no
 * string `event` is refused with a sentence naming what was wrong.
 */
export function parseClientMessage(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'message is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'message must be a JSON object' };
  }
  // Own properties only: `{"__proto__": {"event": "x"}}` must not pass.
  const event = hasOwn.call(value, 'event') ? (value as { event: unknown }).event : undefined;
  if (typeof event !== 'string' || event.length === 0) {
    return { ok: false, reason: 'message "event" must be a non-empty string' };
  }
  const data = hasOwn.call(value, 'data') ? (value as { data: unknown }).data : undefined;
  const id = hasOwn.call(value, 'id') ? (value as { id: unknown }).id : undefined;
  return { ok: true, event, data, id };
}

/**
 * Checks a v2 request id: absent, a non-negative safe integer, or a string
 * of at most {@link MAX_REQUEST_ID_LENGTH} characters. `false` when invalid.
 */
export function parseRequestId(value: unknown): RequestId | undefined | false {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : false;
  if (typeof value === 'string') return value.length <= MAX_REQUEST_ID_LENGTH ? value : false;
  return false;
}

/** Checks the `data` of a {@link RESUME} frame; `undefined` when it is not a position. */
export function parsePosition(data: unknown): Position | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { epoch, offset } = data as { epoch?: unknown; offset?: unknown };
  if (typeof epoch !== 'string' || epoch.length === 0 || epoch.length > 100) return undefined;
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) return undefined;
  return { epoch, offset };
}

/** Result of {@link parseWatchBody}: the scope is normalised to a string or `null`. */
export type ParsedWatch =
  | { ok: true; event: string; payload: string | null }
  | { ok: false; message: string };

/**
 * Validates the `data` of a watch/unwatch frame. A number payload becomes
 * its decimal string, so `42` and `"42"` are the same scope.
 */
export function parseWatchBody(data: unknown): ParsedWatch {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, message: 'watch "data" must be an object like { "event": "order-status", "payload": "42" }' };
  }
  const event = hasOwn.call(data, 'event') ? (data as { event: unknown }).event : undefined;
  if (typeof event !== 'string' || event.length < 1 || event.length > MAX_WATCH_EVENT_LENGTH) {
    return {
      ok: false,
      message: `watch "data.event" must be a string of 1 to ${MAX_WATCH_EVENT_LENGTH} characters`,
    };
  }
  const raw = hasOwn.call(data, 'payload') ? (data as { payload: unknown }).payload : undefined;
  if (raw === undefined || raw === null) return { ok: true, event, payload: null };
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) {
      return { ok: false, message: 'watch "data.payload" must be a finite number' };
    }
    return { ok: true, event, payload: String(raw) };
  }
  if (typeof raw === 'string') {
    if (raw.length > MAX_WATCH_PAYLOAD_LENGTH) {
      return {
        ok: false,
        message: `watch "data.payload" must be at most ${MAX_WATCH_PAYLOAD_LENGTH} characters`,
      };
    }
    return { ok: true, event, payload: raw };
  }
  return { ok: false, message: 'watch "data.payload" must be a string, a number or null' };
}

/**
 * Describes a value in an error sentence: strings quoted, objects by kind,
 * never their contents (an option may hold a token that must not reach a log).
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object' && value !== null) return 'an object';
  return String(value);
}

/**
 * The one form of every option error of wshub's packages, thrown at once by
 * the constructor that got the option:
 * `wshub[ <who>]: option "<name>" must be <rule>, got <value>`.
 */
export function optionError(who: string, name: string, rule: string, value: unknown): TypeError {
  return new TypeError(`wshub${who ? ` ${who}` : ''}: option "${name}" must be ${rule}, got ${describeValue(value)}`);
}

