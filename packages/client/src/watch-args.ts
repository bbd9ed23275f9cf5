import { parseWatchBody, UNWATCH, WATCH } from '@wshub/core/protocol';
import { show } from './show.js';

/**
 * The scope `watch(event, payload)` sends, by the server's own rule (the
 * shared protocol module); the sentence is the server's too.
 *
 * @throws {TypeError} for an invalid event or payload.
 */
export function watchScope(event: unknown, payload: unknown): string | null {
  const body = parseWatchBody(payload === undefined ? { event } : { event, payload });
  if (!body.ok) {
    const field = body.message.includes('"data.event"') ? 'event' : 'payload';
    const value: unknown = field === 'event' ? event : payload;
    const got = typeof value === 'string' && value.length > 0 ? `${value.length} characters` : show(value);
    throw new TypeError(`wshub client: ${body.message.replace(/^watch "data\.(\w+)"/, 'watch() "$1"')}, got ${got}`);
  }
  return body.payload;
}

export function checkEventName(method: string, event: unknown): void {
  if (typeof event !== 'string' || event.length === 0) {
    throw new TypeError(`wshub client: ${method}() "event" must be a non-empty string, got ${show(event)}`);
  }
}

/**
 * What `send()` writes: `{ event, data }` as JSON, serialised now, so a bad
 * value fails in the caller's stack and later changes to `data` do not alter
 * a queued message.
 *
 * @throws {TypeError} for an invalid event name, `watch`/`unwatch`, or data `JSON.stringify` cannot write.
 */
export function sendFrame(event: unknown, data: unknown): string {
  checkEventName('send', event);
  if (event === WATCH || event === UNWATCH) {
    throw new TypeError(
      `wshub client: send() cannot send "${event}"; use watch() and Subscription.unwatch(), which the client repeats after reconnecting`,
    );
  }
  return JSON.stringify({ event, data });
}
