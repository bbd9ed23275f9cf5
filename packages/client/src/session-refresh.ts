import { callToken } from './dial.js';
import { messageOf } from './incoming.js';
import type { ResolvedOptions } from './options.js';
import { show } from './show.js';

/**
 * A fresh token for a session the server says expires soon; `undefined`
 * when there is none to send (no `token` option, or it failed: reported,
 * and the session ends at its expiry with 4401, then the client reconnects).
 * `stillOpen` is asked once the token is there: a socket gone meanwhile gets nothing.
 */
export async function refreshToken(
  options: ResolvedOptions,
  stillOpen: () => boolean,
  report: (error: Error) => void,
): Promise<string | undefined> {
  const token = options.token;
  if (!token) return undefined;
  let value: unknown;
  try {
    value = await callToken(token, options.connectTimeoutMs);
  } catch (error) {
    report(new Error(`wshub client: the "token" function failed while refreshing: ${messageOf(error)}`, { cause: error }));
    return undefined;
  }
  if (!stillOpen()) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    report(new Error(`wshub client: the "token" function must return a non-empty string, got ${show(value)}`));
    return undefined;
  }
  return value;
}
