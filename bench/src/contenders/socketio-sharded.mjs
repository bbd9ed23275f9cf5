/**
 * Scenario I: Socket.IO (websocket transport, a room per user) with the
 * sharded adapter of `@socket.io/redis-adapter` (`createShardedAdapter`,
 * SPUBLISH/SSUBSCRIBE, default `subscriptionMode: 'dynamic'`: a channel per
 * public room, so each user's room has its own channel, spread over the
 * shards like wshub's) on ioredis `Cluster` clients. A socket is reported
 * ready once its room's channel is subscribed.
 */
import { Server } from 'socket.io';
import { shardWatch } from '../lib/subscription-watch.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  const nodes = ctx.options?.redisCluster;
  if (!ctx.cluster || !nodes) throw new Error('socketio-sharded runs in scenario I only');
  const [{ createShardedAdapter }, { Cluster }] = await Promise.all([import('@socket.io/redis-adapter'), import('ioredis')]);
  const io = new Server(ctx.server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    maxHttpBufferSize: 64 * 1024,
  });
  const pub = new Cluster(nodes);
  const sub = new Cluster(nodes, { shardedSubscribers: true });
  io.adapter(createShardedAdapter(pub, sub));
  // The adapter's channel for room `id` in namespace '/' (its `dynamicChannel`).
  const subscribed = ctx.cluster.role === 'subscriber' ? shardWatch(ctx, nodes, (id) => `socket.io#/#${id}#`) : undefined;
  io.use((socket, next) => {
    try {
      socket.data.user = ctx.userFromToken(socket.handshake.auth?.token);
      next();
    } catch {
      next(new Error('unauthorized'));
    }
  });
  io.on('connection', (socket) => {
    socket.join(socket.data.user.id);
    if (subscribed) subscribed.add(socket.data.user.id);
    else ctx.onReady();
  });
  return {
    deliver: {
      broadcast(event, data) {
        io.emit(event, data);
      },
      toUser(userId, event, data) {
        io.to(userId).emit(event, data);
      },
    },
    async close() {
      subscribed?.close();
      await io.close();
      pub.disconnect();
      sub.disconnect();
    },
  };
}
