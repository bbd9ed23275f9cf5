/**
 * Scenario F: wshub with `RedisBroker` from `@wshub/redis`, as
 * wshub-core.mjs otherwise. The broker subscribes a channel per user once
 * the user's first socket is ready; a socket is reported ready to the
 * harness only when Redis shows a subscriber on its user's channel, so no
 * measured send can race the subscription.
 */
import { WsHub } from '@wshub/core';
import { RedisBroker } from '@wshub/redis';
import { Redis } from 'ioredis';

/** How often pending sockets are checked against Redis's subscriptions. */
const SUBSCRIBED_POLL_MS = 10;

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  if (!ctx.cluster) throw new Error('wshub-redis runs in the cluster scenario only');
  const broker = new RedisBroker({ url: ctx.cluster.redisUrl });
  const hub = new WsHub({ path: ctx.path, authenticate: ctx.authenticate, broker });
  let errors = 0;
  hub.on('error', () => {
    errors++;
  });
  const subscribed = ctx.cluster.role === 'subscriber' ? subscriptionWatch(ctx, broker) : undefined;
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

/**
 * Holds back `onReady` of each socket until `PUBSUB NUMSUB` shows its
 * user's channel subscribed (the channel name is the broker's public
 * `userChannel(userId)`), polling on a connection of its own.
 */
function subscriptionWatch(ctx, broker) {
  const redis = new Redis(ctx.cluster.redisUrl);
  /** userId → sockets of that user not yet reported. */
  const pending = new Map();
  let timer;
  let busy = false;
  const poll = async () => {
    if (busy || pending.size === 0) return;
    busy = true;
    try {
      const users = [...pending.keys()];
      const reply = await redis.pubsub('NUMSUB', ...users.map((id) => broker.userChannel(id)));
      for (let i = 0; i < users.length; i++) {
        if (Number(reply[2 * i + 1]) === 0) continue;
        const sockets = pending.get(users[i]);
        pending.delete(users[i]);
        for (let s = 0; s < sockets; s++) ctx.onReady();
      }
    } finally {
      busy = false;
    }
    // Nothing polls while the measured rounds run.
    if (pending.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    add(userId) {
      pending.set(userId, (pending.get(userId) ?? 0) + 1);
      timer ??= setInterval(() => poll().catch(() => {}), SUBSCRIBED_POLL_MS);
    },
    close() {
      clearInterval(timer);
      redis.disconnect();
    },
  };
}
