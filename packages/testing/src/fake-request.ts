import type { HubRequest } from '@wshub/core';

/**
 * What a fake connect sends as its HTTP upgrade request. `authenticate`
 * receives a plain object with `method`, `url`, `headers` (lower-case keys,
 * `host` defaults to `localhost`), `cookies` and `socket.remoteAddress` —
 * the parts of an `IncomingMessage` auth code reads.
 */
export interface FakeRequestInit {
  /**
   * Path and query string. One that starts with `?` is appended to the hub's path.
   * @default the hub's path
   */
  url?: string;
  /** Query parameters appended to `url`. */
  query?: Record<string, string | number | boolean>;
  headers?: Record<string, string | string[] | undefined>;
  /** Sent as the `Cookie` header, and kept as `request.cookies` (as cookie-parser would). */
  cookies?: Record<string, string>;
  /** @default '127.0.0.1' */
  remoteAddress?: string;
}

const REQUEST_KEYS = ['url', 'query', 'headers', 'cookies'] as const;

/**
 * Whether a `connect()` argument is a request rather than a user: an object
 * with `url`, `query`, `headers` or `cookies` and no `id` (every user has an `id`).
 */
export function isRequestInit(value: unknown): value is FakeRequestInit {
  if (typeof value !== 'object' || value === null || 'id' in value) return false;
  return REQUEST_KEYS.some((key) => key in value);
}

/** Builds the request-like object `authenticate` receives. */
export function toRequest(init: FakeRequestInit, path: string): HubRequest {
  let url = init.url ?? path;
  if (url.startsWith('?')) url = `${path}${url}`;
  if (init.query) {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(init.query)) query.append(key, String(value));
    url += `${url.includes('?') ? '&' : '?'}${query}`;
  }
  const headers: Record<string, string | string[]> = { host: 'localhost', connection: 'Upgrade', upgrade: 'websocket' };
  for (const [name, value] of Object.entries(init.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  if (init.cookies) {
    const pairs = Object.entries(init.cookies).map(([name, value]) => `${name}=${encodeURIComponent(value)}`);
    headers.cookie = [headers.cookie, ...pairs].filter(Boolean).join('; ');
  }
  const socket = { remoteAddress: init.remoteAddress ?? '127.0.0.1' };
  const request = { method: 'GET', url, headers, cookies: { ...init.cookies }, socket, connection: socket };
  // A request-like object, not an IncomingMessage: typed as the hook expects it.
  return request as unknown as HubRequest;
}
