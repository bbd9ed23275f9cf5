/**
 * Scenario I: wshub with `RedisBroker` on a Redis Cluster (sharded pub/sub,
 * one subscriber per master), as wshub-redis.mjs on one Redis. The scenario
 * starts the cluster and passes its nodes as `ctx.options.redisCluster`.
 */
import { WsHub } from '@wshub/core';
import { RedisBroker } from '@wshub/redis';
import { shardWatch } from '../lib/subscription-watch.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  const nodes = ctx.options?.redisCluster;
  if (!ctx.cluster || !nodes) throw new Error('wshub-redis-cluster runs in scenario I only');
  const broker = new RedisBroker({ cluster: nodes });
  const hub = new WsHub({ path: ctx.path, authenticate: ctx.authenticate, broker });
  let errors = 0;
  hub.on('error', () => {
    errors++;
  });
  const subscribed = ctx.cluster.role === 'subscriber' ? shardWatch(ctx, nodes, (id) => broker.userChannel(id)) : undefined;
  hub.on('ready', ({ user }) => (subscribed ? subscribed.add(user.id) : ctx.onReady()));
  hub.attach(ctx.server);
  return {
    deliver: {
      toUser: (userId, event, data) => hub.sendMessage(userId, event, data),
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
