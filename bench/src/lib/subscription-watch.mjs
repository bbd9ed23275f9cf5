/**
 * Holds back `onReady` of each socket until Redis shows a subscriber on
 * its user's channel (`channelOf(userId)`), so no measured send can race
 * the subscription. Polls on a connection of its own, and stops polling
 * once nothing is pending (nothing polls while measured rounds run).
 *
 * - `subscriptionWatch(ctx, redisUrl, channelOf)`: one Redis, `PUBSUB NUMSUB`.
 * - `shardWatch(ctx, nodes, channelOf)`: a Redis Cluster, `PUBSUB SHARDNUMSUB`
 *   asked of every master (each counts only its own slots; the sum is the cluster's).
 */
import { Cluster, Redis } from 'ioredis';

const POLL_MS = 10;

export function subscriptionWatch(ctx, redisUrl, channelOf) {
  const redis = new Redis(redisUrl);
  return watch(ctx, redis, async (channels) => {
    const reply = await redis.pubsub('NUMSUB', ...channels);
    return channels.map((_, i) => Number(reply[2 * i + 1]));
  }, channelOf);
}

export function shardWatch(ctx, nodes, channelOf) {
  const redis = new Cluster(nodes);
  return watch(ctx, redis, async (channels) => {
    const counts = new Array(channels.length).fill(0);
    for (const master of redis.nodes('master')) {
      const reply = await master.pubsub('SHARDNUMSUB', ...channels);
      for (let i = 0; i < channels.length; i++) counts[i] += Number(reply[2 * i + 1]);
    }
    return counts;
  }, channelOf);
}

function watch(ctx, redis, count, channelOf) {
  /** userId → sockets of that user not yet reported. */
  const pending = new Map();
  let timer;
  let busy = false;
  const poll = async () => {
    if (busy || pending.size === 0) return;
    busy = true;
    try {
      const users = [...pending.keys()];
      const counts = await count(users.map(channelOf));
      for (let i = 0; i < users.length; i++) {
        if (counts[i] === 0) continue;
        const sockets = pending.get(users[i]);
        pending.delete(users[i]);
        for (let s = 0; s < sockets; s++) ctx.onReady();
      }
    } finally {
      busy = false;
    }
    if (pending.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  };
  return {
    add(userId) {
      pending.set(userId, (pending.get(userId) ?? 0) + 1);
      timer ??= setInterval(() => poll().catch(() => {}), POLL_MS);
    },
    close() {
      clearInterval(timer);
      redis.disconnect();
    },
  };
}
