/**
 * Scenario F: wshub with `RedisBroker` from `@wshub/redis`, as
 * wshub-core.mjs otherwise. The broker subscribes a channel per user once
 * the user's first socket is ready; a socket is reported ready to the
 * harness only when Redis shows a subscriber on its user's channel, so no
 * measured send can race the subscription.
 */
import { WsHub } from '@wshub/core';
import { RedisBroker } from '@wshub/redis';
import { subscriptionWatch } from '../lib/subscription-watch.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  if (!ctx.cluster) throw new Error('wshub-redis runs in the cluster scenario only');
  const broker = new RedisBroker({ url: ctx.cluster.redisUrl });
  const hub = new WsHub({ path: ctx.path, authenticate: ctx.authenticate, broker });
  let errors = 0;
  hub.on('error', () => {
    errors++;
  });
  const subscribed = ctx.cluster.role === 'subscriber' ? subscriptionWatch(ctx, ctx.cluster.redisUrl, (id) => broker.userChannel(id)) : undefined;
  hub.on('ready', ({ user }) => (subscribed ? subscribed.add(user.id) : ctx.onReady()));
  hub.attach(ctx.server);
  return {
    deliver: {
      toUser: (userId, event, data) => hub.sendMessage(userId, event, data),
      // Scenario I.
      broadcast: (event, data) => hub.push(event, data),
    },
    async close() {
      subscribed?.close();
      await hub.close();
    },
    stats() {
      const { dropped, slowConsumers, messagesOut } = hub.stats();
      return { dropped, slowConsumers, messagesOut, errors };
    },
  };
}
