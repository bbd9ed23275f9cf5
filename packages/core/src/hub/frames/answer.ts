import type { HubContext } from '../hub-context.js';
import type { HubUser } from '../../config/options.js';
import { ACK, type Ack, parseRequestId } from '../../protocol/protocol.js';
import type { SocketSession } from '../../session/socket-session.js';

/** Sends a v2 ack for one request: with its `id` when the client gave a valid one. */
export type Answer = (fields: Omit<Ack, 'op' | 'id'>) => void;

/**
 * The request id of a frame (`false` when malformed) and the function that
 * answers it with an ack of operation `op`.
 */
export function answerer<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: SocketSession<User, S>,
  op: Ack['op'],
  rawId: unknown,
): { id: ReturnType<typeof parseRequestId>; answer: Answer } {
  const id = parseRequestId(rawId);
  const answer: Answer = (fields) => {
    const ack: Ack = id === undefined || id === false ? { op, ...fields } : { id, op, ...fields };
    ctx.delivery.reply(session, ACK, ack);
  };
  return { id, answer };
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function';
}
