import { EXCEPTION, type ParsedWatch, parseWatchBody, WATCH } from '@wshub/core/protocol';
import type { ReceivedMessage } from './message-queue.js';

/** What a watch request came to: registered, or refused by `canWatch`. */
export type WatchResult = 'allowed' | 'forbidden';

/** The frame a client sends to watch or unwatch, and the scope the hub will file it under. */
export function watchRequest(
  kind: typeof WATCH | 'unwatch',
  event: string,
  payload: string | number | null | undefined,
): { frame: string; body: object; scope: ParsedWatch } {
  const body = payload === undefined ? { event } : { event, payload };
  return { frame: JSON.stringify({ event: kind, data: body }), body, scope: parseWatchBody(body) };
}

/** The hub's refusal of exactly this watch: `{ event: 'watch', data: { event, payload, forbidden: true } }`. */
export function findForbiddenReply(replies: readonly ReceivedMessage[], scope: ParsedWatch): ReceivedMessage | undefined {
  if (!scope.ok) return undefined;
  return replies.find((message) => {
    if (message.event !== WATCH) return false;
    const data = message.data as { event?: unknown; payload?: unknown; forbidden?: unknown } | null;
    return data?.forbidden === true && data.event === scope.event && data.payload === scope.payload;
  });
}

/** The hub's `exception` reply among `replies`, if any. */
export function findException(replies: readonly ReceivedMessage[]): ReceivedMessage | undefined {
  return replies.find((message) => message.event === EXCEPTION);
}

/** The sentence of an `exception` reply. */
export function exceptionText(message: ReceivedMessage): string {
  return String((message.data as { message?: unknown } | null)?.message ?? JSON.stringify(message.data));
}
