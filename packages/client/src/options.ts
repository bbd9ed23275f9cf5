import { MAX_CONFIRM_IDS, optionError, SUBPROTOCOL } from '@wshub/core/protocol';
import { show } from './show.js';
import { DEFAULT_POSITION_KEY, type PositionStore, resolveStore } from './position-store.js';
import { globalWebSocket, type WebSocketConstructor } from './websocket.js';

/** How the client waits between reconnection attempts. */
export interface ReconnectOptions {
  /**
   * Ceiling of the first delay; later ceilings grow by `factor`.
   * @default 1000
   */
  initialDelayMs?: number;
  /**
   * Largest ceiling.
   * @default 30000
   */
  maxDelayMs?: number;
  /**
   * Growth of the ceiling per attempt (at least 1).
   * @default 2
   */
  factor?: number;
  /**
   * Share of the ceiling that is random, 0 to 1. With 1 ("full jitter") the
   * delay is uniform between 0 and the ceiling; with 0 it is the ceiling.
   * @default 1
   */
  jitter?: number;
  /**
   * Attempts in a row, without a connection that lasted `resetAfterMs`,
   * before the client gives up and closes. 0 never reconnects.
   * @default Infinity
   */
  maxAttempts?: number;
  /**
   * A connection that stays open this long resets the backoff to its first
   * step. A server that accepts and then drops the client at once is
   * retried with growing delays instead of in a tight loop.
   * @default 5000
   */
  resetAfterMs?: number;
}

/** A query string value; numbers and booleans are written as text. */
export type QueryValue = string | number | boolean;

export interface HubClientOptions {
  /** Extra subprotocols to offer after `'wshub'` (and the token). */
  protocols?: string | string[];
  /** Query parameters added to the URL of every connection. */
  query?: Record<string, QueryValue>;
  /**
   * Returns the credential for the server's `authenticate`. Called before
   * every connection attempt, so an expired token is replaced on reconnect,
   * and for each renewal when the server announces the session's expiry.
   * A throw or rejection counts as a failed attempt (reported as `'error'`);
   * during a renewal it is reported, and the session ends at its expiry.
   */
  token?: () => string | Promise<string>;
  /**
   * Where the token goes. `'query'` adds `?token=<token>` to the URL, which is
   * what an `authenticate` reading `searchParams.get('token')` expects.
   * `'protocol'` offers `['wshub', token]` in `Sec-WebSocket-Protocol`
   * instead: the hub selects `'wshub'` and never echoes the token, and the
   * token stays out of URLs and access logs.
   * @default 'query'
   */
  tokenIn?: 'protocol' | 'query';
  /**
   * The `WebSocket` class to use. Browsers (and Node >= 22) have a global one;
   * in Node 20 pass `WebSocket` from the `ws` package.
   * @default globalThis.WebSocket
   */
  WebSocket?: WebSocketConstructor;
  /** Backoff settings, or `false` never to reconnect. */
  reconnect?: ReconnectOptions | false;
  /**
   * How long a connection attempt may take, from creating the WebSocket to
   * its `open` event (the HTTP upgrade answered). An attempt still not open
   * then is closed and counts as a failed one: `'close'` with 1006, and the
   * next attempt after the backoff. It bounds a server, or a proxy or load
   * balancer in front of it, that accepts the TCP connection and never
   * answers the upgrade. The `token` function gets the same time, on each
   * attempt and on a session refresh: one that never settles fails the
   * attempt (`'error'`, then the next attempt after the backoff). 0 waits as
   * long as the WebSocket (and the token) do, which for `ws` (Node) is forever.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Messages `send()` keeps while the client is not open, sent in order once
   * it is. When full, `send()` returns `false` and drops the new message.
   * 0 disables queueing. Keep this under the hub's
   * `limits.maxPendingMessages` (32): queued messages are sent right after the
   * connection opens, usually before authentication has finished.
   * @default 16
   */
  maxQueuedMessages?: number;
  /**
   * Message recovery: when the server offers it (its welcome carries a
   * position), the client remembers the offset of the last message it
   * handled and, after a reconnect, asks for what it missed. Handlers then
   * get those messages first, in order, each once, and `'recovered'` tells
   * whether nothing was lost. With `{ store }`, the position is also kept
   * in a store (`'local'`: the page's `localStorage`; or any `{ get, set }`,
   * e.g. a file in Node), under `key`, so a page reload or an app restart
   * within the server's history `ttlMs` resumes from it too.
   * @default true
   */
  recover?: boolean | { store: 'local' | PositionStore; key?: string };
  /**
   * Receipts (a hub with `receipts` on): `'auto'` confirms each message
   * once its handlers returned; `'manual'` confirms only when the app calls
   * `message.ack()` (the handler's second argument), e.g. once it is shown.
   * Confirmations are batched: see `confirmBatch`. With `share`, the first
   * tab's is the connection's; with `'manual'` there, the first tab to ack
   * a message confirms it.
   * @default 'auto'
   */
  ack?: 'auto' | 'manual';
  /**
   * How confirmations are batched: at most one `wshub:confirm` frame per
   * `withinMs` on a connection, or one as soon as `maxIds` ids wait. A
   * confirmation after a quiet `withinMs` goes at the end of the turn (with
   * the others of that turn); one sooner after a frame goes with the others
   * when the window ends (`withinMs: 0`: each turn's in one frame). A
   * confirmation thus reaches the hub at most `withinMs` late; keep it far
   * below the hub's `undeliveredAfterMs` (30 s by default).
   * @default { withinMs: 250, maxIds: 64 }
   */
  confirmBatch?: ConfirmBatchOptions;
  /**
   * One WebSocket for every tab of this origin that creates a client with
   * the same URL. `'worker'`: the socket lives in a `SharedWorker` and each
   * tab talks to it; `'leader'`: a tab elected with a Web Lock holds it and
   * the others talk to it over a `BroadcastChannel` (either is a TypeError
   * where the browser lacks what it needs); `true`: the worker where
   * `SharedWorker` exists, else the leader where Web Locks and
   * `BroadcastChannel` do, else one socket per tab, said once with
   * `console.warn`. The first tab's options are the shared connection's; the
   * `token` of a tab that is still open serves it. The `WebSocket` option
   * applies only where a tab falls back to its own socket.
   * @default false
   */
  share?: boolean | 'worker' | 'leader';
}

/** `confirmBatch` of the client's options. */
export interface ConfirmBatchOptions {
  /** Least time between two frames of confirmations (unless `maxIds` wait), so the longest one waits, 0 to 1000 ms. @default 250 */
  withinMs?: number;
  /** Most ids in one frame, 1 to 256 (`MAX_CONFIRM_IDS`). @default 64 */
  maxIds?: number;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  url: URL;
  protocols: string[];
  token: (() => string | Promise<string>) | undefined;
  tokenIn: 'protocol' | 'query';
  WebSocket: WebSocketConstructor;
  reconnect: Required<ReconnectOptions>;
  /** 0: no limit. */
  connectTimeoutMs: number;
  maxQueuedMessages: number;
  recover: boolean;
  /** With `recover: { store }`: where the position is kept between runs. */
  positionStore: { store: PositionStore; key: string } | undefined;
  ack: 'auto' | 'manual';
  confirmBatch: Required<ConfirmBatchOptions>;
  /** `'auto'` for `share: true`. */
  share: false | 'auto' | 'worker' | 'leader';
}

export const DEFAULT_RECONNECT: Readonly<Required<ReconnectOptions>> = Object.freeze({
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  factor: 2,
  jitter: 1,
  maxAttempts: Number.POSITIVE_INFINITY,
  resetAfterMs: 5000,
});

export const DEFAULT_MAX_QUEUED_MESSAGES = 16;

/** A connection attempt not open after 10 s is closed and retried. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** The longest delay `setTimeout` keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** At most a frame of confirmations per 250 ms, or one as soon as 64 are waiting. */
export const DEFAULT_CONFIRM_BATCH: Readonly<Required<ConfirmBatchOptions>> = Object.freeze({ withinMs: 250, maxIds: 64 });

function resolveConfirmBatch(value: unknown): Required<ConfirmBatchOptions> {
  if (value !== undefined && (typeof value !== 'object' || value === null)) {
    fail(`option "confirmBatch" must be an object, got ${show(value)}`);
  }
  const o = (value ?? {}) as ConfirmBatchOptions;
  const d = DEFAULT_CONFIRM_BATCH;
  const maxIds = number('confirmBatch.maxIds', o.maxIds, d.maxIds, 1, MAX_CONFIRM_IDS);
  if (!Number.isInteger(maxIds)) fail(`option "confirmBatch.maxIds" must be a whole number, got ${maxIds}`);
  return { withinMs: number('confirmBatch.withinMs', o.withinMs, d.withinMs, 0, 1000), maxIds };
}

/** RFC 7230 `token`: what a `Sec-WebSocket-Protocol` entry may contain. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isHttpToken(value: string): boolean {
  return HTTP_TOKEN.test(value);
}

function fail(message: string): never {
  throw new TypeError(`wshub client: ${message}`);
}

function number(name: string, value: unknown, fallback: number, min: number, max = Number.POSITIVE_INFINITY): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `between ${min} and ${max}`;
    throw optionError('client', name, `a number ${range}`, value);
  }
  return value;
}

/**
 * Resolves `url` to an absolute `ws:` or `wss:` URL. A relative URL such as
 * `/api/v1/ws` is resolved against the page, and `http(s):` becomes `ws(s):`.
 */
export function resolveUrl(url: unknown): URL {
  if (typeof url !== 'string' && !(url instanceof URL)) fail(`url must be a string or a URL, got ${show(url)}`);
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let parsed: URL;
  try {
    parsed = new URL(String(url), base);
  } catch {
    fail(`url must be an absolute ws:// or wss:// URL (or relative, in a page), got ${show(String(url))}`);
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    fail(`url must use ws: or wss:, got ${show(String(url))}`);
  }
  if (parsed.hash) fail(`url must not have a #fragment, got ${show(String(url))}`);
  return parsed;
}

/** Validates options and fills in defaults; misuse fails at once with a TypeError naming the option. */
export function resolveOptions(url: unknown, options: HubClientOptions | undefined): ResolvedOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    fail(`options must be an object, got ${show(options)}`);
  }
  const o = options ?? {};
  const resolvedUrl = resolveUrl(url);

  const protocols = o.protocols === undefined ? [] : Array.isArray(o.protocols) ? o.protocols : [o.protocols];
  for (const protocol of protocols) {
    if (typeof protocol !== 'string' || !isHttpToken(protocol)) {
      fail(`option "protocols" must hold subprotocol names (letters, digits, -._~ etc.), got ${show(protocol)}`);
    }
  }

  if (o.query !== undefined) {
    if (typeof o.query !== 'object' || o.query === null || Array.isArray(o.query)) {
      fail(`option "query" must be an object of strings, numbers or booleans, got ${show(o.query)}`);
    }
    for (const [name, value] of Object.entries(o.query)) {
      if (!['string', 'number', 'boolean'].includes(typeof value)) {
        fail(`option "query.${name}" must be a string, a number or a boolean, got ${show(value)}`);
      }
      resolvedUrl.searchParams.set(name, String(value));
    }
  }

  if (o.token !== undefined && typeof o.token !== 'function') {
    fail(`option "token" must be a function that returns the token, got ${show(o.token)}`);
  }
  const tokenIn = o.tokenIn ?? 'query';
  if (tokenIn !== 'protocol' && tokenIn !== 'query') {
    fail(`option "tokenIn" must be 'protocol' or 'query', got ${show(tokenIn)}`);
  }

  const WebSocket = o.WebSocket ?? globalWebSocket();
  if (typeof WebSocket !== 'function') {
    fail(
      o.WebSocket === undefined
        ? 'there is no global WebSocket here; pass the "WebSocket" option (in Node 20: WebSocket from the "ws" package)'
        : `option "WebSocket" must be a WebSocket class, got ${show(o.WebSocket)}`,
    );
  }

  const r = o.reconnect === false ? { maxAttempts: 0 } : o.reconnect;
  if (r !== undefined && (typeof r !== 'object' || r === null)) {
    fail(`option "reconnect" must be an object or false, got ${show(r)}`);
  }
  const d = DEFAULT_RECONNECT;
  const reconnect: Required<ReconnectOptions> = {
    initialDelayMs: number('reconnect.initialDelayMs', r?.initialDelayMs, d.initialDelayMs, 0),
    maxDelayMs: number('reconnect.maxDelayMs', r?.maxDelayMs, d.maxDelayMs, 0),
    factor: number('reconnect.factor', r?.factor, d.factor, 1),
    jitter: number('reconnect.jitter', r?.jitter, d.jitter, 0, 1),
    maxAttempts: number('reconnect.maxAttempts', r?.maxAttempts, d.maxAttempts, 0),
    resetAfterMs: number('reconnect.resetAfterMs', r?.resetAfterMs, d.resetAfterMs, 0),
  };
  if (reconnect.maxDelayMs < reconnect.initialDelayMs) {
    fail(
      `option "reconnect.maxDelayMs" (${reconnect.maxDelayMs}) must not be less than "reconnect.initialDelayMs" (${reconnect.initialDelayMs})`,
    );
  }

  const connectTimeoutMs = number('connectTimeoutMs', o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 0, MAX_TIMER_MS);

  const maxQueuedMessages = number('maxQueuedMessages', o.maxQueuedMessages, DEFAULT_MAX_QUEUED_MESSAGES, 0);
  if (!Number.isInteger(maxQueuedMessages)) {
    fail(`option "maxQueuedMessages" must be a whole number, got ${maxQueuedMessages}`);
  }

  let positionStore: ResolvedOptions['positionStore'];
  if (typeof o.recover === 'object' && o.recover !== null) {
    const key = o.recover.key ?? DEFAULT_POSITION_KEY;
    if (typeof key !== 'string' || key === '') fail(`option "recover.key" must be a non-empty string, got ${show(key)}`);
    positionStore = { store: resolveStore(o.recover.store, fail), key };
  } else if (o.recover !== undefined && typeof o.recover !== 'boolean') {
    fail(`option "recover" must be a boolean or { store, key? }, got ${show(o.recover)}`);
  }
  if (o.ack !== undefined && o.ack !== 'auto' && o.ack !== 'manual') {
    fail(`option "ack" must be 'auto' or 'manual', got ${show(o.ack)}`);
  }

  let share: ResolvedOptions['share'] = false;
  if (o.share === true) share = 'auto';
  else if (o.share === 'worker' || o.share === 'leader') share = o.share;
  else if (o.share !== undefined && o.share !== false) {
    fail(`option "share" must be true, false, 'worker' or 'leader', got ${show(o.share)}`);
  }
  if ((share === 'worker' || share === 'leader') && o.WebSocket !== undefined) {
    fail(`option "WebSocket" cannot be used with share: '${share}': the shared socket is made with the global WebSocket`);
  }

  return {
    url: resolvedUrl,
    protocols: protocols.filter((p) => p !== SUBPROTOCOL),
    token: o.token,
    tokenIn,
    WebSocket,
    reconnect,
    connectTimeoutMs,
    maxQueuedMessages,
    recover: o.recover !== false,
    positionStore,
    ack: o.ack ?? 'auto',
    confirmBatch: resolveConfirmBatch(o.confirmBatch),
    share,
  };
}
