import { ACK, type Ack, type ParsedWatch, parseWatchBody, RESERVED_PREFIX, type UNWATCH, WATCH } from '@wshub/core/protocol';
import type { ReceivedMessage } from './message-queue.js';

/** What a watch request came to: registered, or refused by `canWatch`. */
export type WatchResult = 'allowed' | 'forbidden';

/** The frame a client sends to watch or unwatch (with the v2 request `id`), and the scope the hub will file it under. */
export function watchRequest(
  kind: typeof WATCH | typeof UNWATCH,
  event: string,
  payload: string | number | null | undefined,
  id: number,
): { frame: string; body: object; scope: ParsedWatch } {
  const body = payload === undefined ? { event } : { event, payload };
  return { frame: JSON.stringify({ event: kind, id, data: body }), body, scope: parseWatchBody(body) };
}

/** An {@link ACK} frame's data, or `undefined` for any other frame. */
export function ackOf(message: ReceivedMessage): Ack | undefined {
  return message.event === ACK ? (message.data as Ack) : undefined;
}

/** The protocol's own frames (acks, welcome, expiry notices — every `wshub:` event): consumed by the test clients, never listed as messages. */
export function isProtocolFrame(message: ReceivedMessage): boolean {
  return typeof message.event === 'string' && message.event.startsWith(RESERVED_PREFIX);
}

/**
 * What an ack means for the caller: the result of a watch, nothing for an
 * unwatch, or an error with the hub's sentence for an invalid request.
 */
export function settleAck(owner: string, kind: string, body: object, ack: Ack): WatchResult | undefined {
  if (ack.status === 'invalid') {
    throw new Error(`${owner}: ${kind} ${JSON.stringify(body)} was rejected: ${ack.message ?? 'invalid'}`);
  }
  if (kind !== WATCH) return undefined;
  return ack.status === 'allowed' ? 'allowed' : 'forbidden';
}
