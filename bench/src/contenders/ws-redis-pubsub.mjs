/**
 * Scenario F's hand-rolled reference: `ws` rooms per node and one Redis
 * pub/sub channel that every node subscribes to. A send publishes
 * `<userId>\n<frame text>`; each node delivers to the user's local sockets
 * with `send(string)`. What a plain Redis fan-out costs, with no routing,
 * acks or envelope.
 */
import { Redis } from 'ioredis';
import { OPEN, wsRooms } from './ws-rooms.mjs';

const CHANNEL = 'wshub-bench';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  if (!ctx.cluster) throw new Error('ws-redis-pubsub runs in the cluster scenario only');
  const hub = wsRooms(ctx, { indexScopes: false });
  const pub = new Redis(ctx.cluster.redisUrl);
  const sub = pub.duplicate();
  const deliverLocal = (userId, text) => {
    const room = hub.rooms.get(userId);
    if (room) for (const ws of room) if (ws.readyState === OPEN) ws.send(text);
  };
  await sub.subscribe(CHANNEL);
  sub.on('message', (_channel, message) => {
    const nl = message.indexOf('\n');
    deliverLocal(message.slice(0, nl), message.slice(nl + 1));
  });
  return {
    deliver: {
      toUser(userId, event, data) {
        const text = JSON.stringify({ event, data });
        deliverLocal(userId, text);
        pub.publish(CHANNEL, `${userId}\n${text}`);
      },
    },
    async close() {
      await hub.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}
