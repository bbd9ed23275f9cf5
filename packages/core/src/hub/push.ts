import type { PreparedMessage } from '../session/connection.js';
import { TIMED_OUT, withDeadline } from '../util/deadline.js';
import type { DeliveryFilter } from '../routing/delivery-filter.js';
import type { HubUser } from '../config/options.js';
import type { HubContext } from './hub-context.js';
import { HubError } from '../protocol/errors.js';
import { runBounded } from '../util/run-bounded.js';

/** Push data: a value, or a callback run once per user (spelled out so the callback's `user` is typed). */
export type PushData<User> = ((user: User) => unknown) | string | number | boolean | object | null | undefined;
export type PushAllow<User> = (user: User) => boolean | Promise<boolean>;

/**
 * A push's id and receipts: `tag` a message with its id; with receipts,
 * `track` a user it goes to, with that user's data (without receipts, only
 * the sender's `options.id` is tagged, and nothing is tracked).
 */
export interface PushReceipts {
  tag(message: PreparedMessage): PreparedMessage;
  track?(userId: string, data: unknown): void;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/**
 * One `push`. Plain data without `allow` is encoded once and broadcast.
 * Otherwise `allow` and the data callback run once per user (cluster-wide
 * with a broker that shares presence), at most `concurrency` at a time; a callback
 * that throws, rejects or does not settle within `timeoutMs` skips that
 * user and is reported, so a push always settles. With `receipts`, each
 * message carries the push's id, and a receipt is kept for each user it goes
 * to (for a broadcast: the users online now, cluster-wide). `id`, the
 * sender's, goes with every message to the history, which drops a repeat.
 */
export async function runPush<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  event: string,
  data: PushData<User>,
  allow: PushAllow<User> | null | undefined,
  filter: DeliveryFilter,
  receipts?: PushReceipts,
  id?: string,
): Promise<void> {
  const { delivery, cluster } = ctx;
  const timeoutMs = ctx.config.pushTimeoutMs;
  const perUser = typeof data === 'function' ? (data as (user: User) => unknown) : undefined;
  const prepare = (value: unknown): PreparedMessage | undefined => {
    const message = delivery.prepare(event, value);
    return message && delivery.forClients(message, filter);
  };
  const prepared = perUser ? undefined : prepare(data);
  if (!perUser && !prepared) return;
  const tooBig = prepared && delivery.oversize(prepared);
  if (tooBig) throw tooBig;
  const shared = prepared && receipts ? receipts.tag(prepared) : prepared;
  if (shared && !allow) {
    // Receipts are kept for the users online now, cluster-wide (the others never get it).
    const online = receipts?.track
      ? await cluster.onlineUsers().catch((error: unknown) => {
          ctx.report(HubError.from('broker', error, 'no receipt was kept for this push'));
          return [];
        })
      : undefined;
    // Throws, before anything is delivered, when the broker's queue is full.
    const backlog = cluster.admit();
    if (online) for (const userId of online) receipts?.track?.(userId, data);
    await cluster.broadcast(filter, shared, id);
    if (backlog) await backlog;
    return;
  }
  const users = await cluster.recipients(event, filter);
  const settle = <V>(source: string, userId: string, value: PromiseLike<V>, then: (v: V) => unknown) =>
    withDeadline(value, timeoutMs, ctx.sessionHost.deadlines).then(
      (result) => {
        if (result !== TIMED_OUT) return then(result);
        const message = `wshub: ${source} callback did not answer within ${timeoutMs} ms (user "${userId}"); that user was skipped`;
        ctx.report(new HubError(source, message));
        return undefined;
      },
      (error) => ctx.report(HubError.from(source, error, `user "${userId}"`)),
    );
  /**
   * Sends one user's message; a promise while the broker's queue is long or
   * the history is over its bound of records in flight (the push then waits).
   */
  const send = (userId: string, prepared: PreparedMessage | undefined, value: unknown): Promise<void> | undefined => {
    if (!prepared) return undefined;
    const over = delivery.oversize(prepared);
    if (over) {
      ctx.report(HubError.from('push data', over, `user "${userId}"`));
      return undefined;
    }
    let backlog: Promise<void> | undefined;
    try {
      backlog = cluster.admit();
    } catch (error) {
      ctx.report(HubError.from('broker', error, `user "${userId}" was skipped`));
      return undefined;
    }
    // A shared message is tagged already; a per-user one here.
    const message = receipts && prepared.id === undefined ? receipts.tag(prepared) : prepared;
    receipts?.track?.(userId, value);
    const room = cluster.sendToUser(userId, filter, message, id);
    if (room && backlog) return Promise.all([room, backlog]).then(() => undefined);
    return room ?? backlog;
  };
  const withData = (userId: string, user: User): Promise<unknown> | undefined => {
    if (!perUser) return send(userId, shared, data);
    let value: unknown;
    try {
      value = perUser(user);
    } catch (error) {
      ctx.report(HubError.from('push data', error, `user "${userId}"`));
      return undefined;
    }
    if (!isThenable(value)) return send(userId, prepare(value), value);
    return settle('push data', userId, value, (resolved) => send(userId, prepare(resolved), resolved));
  };
  await runBounded(users, ctx.config.limits.pushConcurrency, ([userId, user]) => {
    if (!allow) return withData(userId, user);
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = allow(user);
    } catch (error) {
      ctx.report(HubError.from('push allow', error, `user "${userId}"`));
      return undefined;
    }
    if (!isThenable(verdict)) return verdict === true ? withData(userId, user) : undefined;
    return settle('push allow', userId, verdict, (ok) => (ok === true ? withData(userId, user) : undefined));
  });
}
