import type { HubContext } from '../hub-context.js';
import type { HubUser } from '../../config/options.js';
import type { SocketSpan } from '../../config/tracing.js';
import { ACK, type Ack, parseRequestId } from '../../protocol/protocol.js';
import type { SocketSession } from '../../session/socket-session.js';

/** Span attributes (as `@opentelemetry/api` types them, without importing it: it is optional). */
type Attributes = Record<string, string | number>;

/** Sends a v2 ack for one request: with its `id` when the client gave a valid one. */
export type Answer = (fields: Omit<Ack, 'op' | 'id'>) => void;

/**
 * The request id of a frame (`false` when malformed) and the function that
 * answers it with an ack of operation `op`. A resume or refresh gets its
 * span (`wshub.resume`, `wshub.refresh`) when tracing records: the answer
 * ends it with the status (and, for a resume, how many were replayed).
 */
export function answerer<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  session: SocketSession<User, S>,
  op: Ack['op'],
  rawId: unknown,
): { id: ReturnType<typeof parseRequestId>; answer: Answer; span: SocketSpan | undefined } {
  const id = parseRequestId(rawId);
  const span = op === 'resume' || op === 'refresh' ? ctx.tracing?.socketSpan(`wshub.${op}`, session.id, session.userId) : undefined;
  const answer: Answer = (fields) => {
    const ack: Ack = id === undefined || id === false ? { op, ...fields } : { id, op, ...fields };
    ctx.delivery.reply(session, ACK, ack);
    if (span) {
      const attributes: Attributes = { [`wshub.${op}.status`]: fields.status };
      if (op === 'resume' && fields.missed !== undefined) attributes['wshub.resume.missed'] = fields.missed;
      span.end(attributes);
    }
  };
  return { id, answer, span };
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function';
}
