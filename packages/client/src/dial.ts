import { SUBPROTOCOL } from '@wshub/core/protocol';
import { messageOf } from './incoming.js';
import { isHttpToken, type ResolvedOptions } from './options.js';
import { show } from './show.js';

/** Where one connection attempt goes: the URL and the subprotocols to offer, the token in one of them. */
export interface DialTarget {
  url: string;
  protocols: string[];
}

/**
 * Calls the `token` function, waiting for it at most `connectTimeoutMs`
 * (0: as long as it takes): a provider that never settles (a refresh
 * request that hangs) must not hold the client in `'connecting'` for good.
 */
export async function callToken(token: () => string | Promise<string>, timeoutMs: number): Promise<unknown> {
  const value = token();
  if (timeoutMs <= 0 || typeof (value as Promise<string> | undefined)?.then !== 'function') return value;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`it did not settle within ${timeoutMs} ms (connectTimeoutMs)`)), timeoutMs);
  });
  try {
    return await Promise.race([value, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Gets a token from the `token` option (when there is one) and puts it
 * where `tokenIn` says. An `Error` when the token cannot be had (it threw,
 * or did not settle within `connectTimeoutMs`) or carried: the attempt
 * failed, and the caller retries with backoff.
 */
export async function dialTarget(options: ResolvedOptions): Promise<DialTarget | Error> {
  const { token, tokenIn } = options;
  const url = new URL(options.url);
  const protocols = [SUBPROTOCOL];
  if (token) {
    let value: unknown;
    try {
      value = await callToken(token, options.connectTimeoutMs);
    } catch (error) {
      return new Error(`wshub client: the "token" function failed: ${messageOf(error)}`, { cause: error });
    }
    if (typeof value !== 'string' || value.length === 0) {
      return new Error(`wshub client: the "token" function must return a non-empty string, got ${show(value)}`);
    }
    if (tokenIn === 'query') {
      url.searchParams.set('token', value);
    } else if (isHttpToken(value)) {
      protocols.push(value);
    } else {
      return new Error(
        "wshub client: the token has characters Sec-WebSocket-Protocol cannot carry (allowed: letters, digits and !#$%&'*+-.^_`|~); encode it (e.g. base64url) or set tokenIn: 'query'",
      );
    }
  }
  protocols.push(...options.protocols);
  return { url: url.href, protocols };
}
