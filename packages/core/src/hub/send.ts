import { assertSendOptions, type SendOptions } from '../brokers/recent-ids.js';
import type { HubUser } from '../config/options.js';
import { toDeliveryFilter, type WatchFilterArg } from '../routing/delivery-filter.js';
import { assertEvent, assertUserId } from './arguments.js';
import type { HubContext } from './hub-context.js';
import { secondsSince } from './hub-observer.js';
import { type PushAllow, type PushData, runPush } from './push.js';
import { withReceipt } from './receipts.js';

/** `hub.sendMessage`: the checks, a repeated id dropped, then one message to the user, wherever they are. */
export async function sendMessage<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  userId: string,
  event: string,
  data: unknown,
  isWatchingOrPayload: WatchFilterArg,
  options: SendOptions | undefined,
): Promise<string> {
  assertUserId(userId);
  assertEvent(event);
  const filter = toDeliveryFilter(isWatchingOrPayload);
  const id = assertSendOptions(options);
  const messageId = id ?? ctx.messageId();
  if (id !== undefined && ctx.recentIds.has(id)) return messageId;
  const { delivery, cluster, observers, tracing, receipts } = ctx;
  const send = async (): Promise<string> => {
    const started = observers.active ? performance.now() : 0;
    const prepared = delivery.prepare(event, data);
    if (!prepared) return messageId;
    const tooBig = delivery.oversize(prepared);
    if (tooBig) throw tooBig;
    const scoped = delivery.forClients(prepared, filter);
    // Throws, before anything is delivered, when the broker's queue is full.
    const backlog = cluster.admit();
    // With receipts every message carries its id; without, only one the sender gave (for clients to drop a repeat).
    const message = receipts
      ? withReceipt(scoped, { id: messageId, origin: cluster.nodeId })
      : id !== undefined
        ? withReceipt(scoped, { id })
        : scoped;
    receipts?.track(messageId, userId, event, data, filter);
    // A history over its bound of records in flight: the caller waits, at the pace the store answers.
    const room = cluster.sendToUser(userId, filter, message, id);
    if (id !== undefined) ctx.recentIds.add(id);
    if (room) await room;
    if (started !== 0) observers.call('delivered', secondsSince(started), 'send');
    if (backlog) await backlog;
    return messageId;
  };
  if (!tracing) return send();
  // With recovery the history delivers later, so the sockets reached are not known here.
  const countSockets = !cluster.history;
  return tracing.send('sendMessage', { event, userId, messageId: id, link: options?.link, countSockets }, send);
}

/** `hub.push`: the checks, a repeated id dropped, then {@link runPush}. */
export async function push<User extends HubUser, S extends object>(
  ctx: HubContext<User, S>,
  event: string,
  data: PushData<User>,
  allow: PushAllow<User> | null | undefined,
  isWatchingOrPayload: WatchFilterArg,
  options: SendOptions | undefined,
): Promise<string> {
  assertEvent(event);
  if (allow !== undefined && allow !== null && typeof allow !== 'function') {
    throw new TypeError(`wshub: push "allow" must be a function, got ${typeof allow}`);
  }
  const filter = toDeliveryFilter(isWatchingOrPayload);
  const id = assertSendOptions(options);
  const messageId = id ?? ctx.messageId();
  if (id !== undefined && ctx.recentIds.has(id)) return messageId;
  const { observers, tracing, receipts } = ctx;
  const origin = ctx.cluster.nodeId;
  const send = async (): Promise<string> => {
    const started = observers.active ? performance.now() : 0;
    await runPush(
      ctx,
      event,
      data,
      allow,
      filter,
      receipts
        ? {
            tag: (message) => withReceipt(message, { id: messageId, origin }),
            track: (userId, value) => receipts.track(messageId, userId, event, value, filter),
          }
        : id !== undefined
          ? { tag: (message) => withReceipt(message, { id }) }
          : undefined,
      id,
    );
    // After the push, so one refused before delivering anything (a full broker queue) can be sent again.
    if (id !== undefined) ctx.recentIds.add(id);
    if (started !== 0) observers.call('delivered', secondsSince(started), 'push');
    return messageId;
  };
  if (!tracing) return send();
  // Only one shared message is written before the push's first await; callbacks run per user, later.
  const countSockets = !ctx.cluster.history && typeof data !== 'function' && !allow;
  return tracing.send('push', { event, messageId: id, link: options?.link, countSockets }, send);
}
