/**
 * Holds back `onReady` of each socket until every master of a Redis
 * Cluster, asked with `PUBSUB SHARDNUMSUB`, shows a subscriber on the
 * socket's sharded channel (`channelOf(userId)`), so no measured send can
 * race the subscription. The cluster-side twin of wshub-redis.mjs's
 * `subscriptionWatch`; polls on a Cluster client of its own.
 */
import { Cluster } from 'ioredis';

const POLL_MS = 10;

export function shardWatch(ctx, nodes, channelOf) {
  const redis = new Cluster(nodes);
  /** userId → sockets of that user not yet reported. */
  const pending = new Map();
  let timer;
  let busy = false;
  const poll = async () => {
    if (busy || pending.size === 0) return;
    busy = true;
    try {
      const users = [...pending.keys()];
      const channels = users.map(channelOf);
      const counts = new Array(users.length).fill(0);
      // A master counts only the sharded channels of its own slots; the sum is the cluster's.
      for (const master of redis.nodes('master')) {
        const reply = await master.pubsub('SHARDNUMSUB', ...channels);
        for (let i = 0; i < users.length; i++) counts[i] += Number(reply[2 * i + 1]);
      }
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
