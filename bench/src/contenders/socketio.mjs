/**
 * Socket.IO (websocket transport only): a room per user and one per watched
 * scope. In scenario F the nodes share rooms through
 * `@socket.io/redis-adapter`; on workers (J) `extra.adapter` sets one.
 */
import { Server } from 'socket.io';

/**
 * @param {import('./contract.mjs').StartContext} ctx
 * @param {{ adapter?: Function }} [extra] an adapter for `io.adapter()` (scenario J: the cluster adapter)
 */
export async function start(ctx, extra = {}) {
  const io = new Server(ctx.server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    httpCompression: false,
    serveClient: false,
    maxHttpBufferSize: 64 * 1024,
  });
  const redis = ctx.cluster ? await redisAdapter(io, ctx.cluster.redisUrl) : undefined;
  if (extra.adapter) io.adapter(extra.adapter);
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
    socket.on('watch', (body) => {
      if (typeof body?.event !== 'string') return;
      socket.join(scopeRoom(body.event, body.payload == null ? null : String(body.payload)));
      ctx.onWatch();
    });
    ctx.onReady();
  });
  return {
    deliver: {
      broadcast(event, data) {
        io.emit(event, data);
      },
      toUser(userId, event, data) {
        io.to(userId).emit(event, data);
      },
      scoped(event, scope, data) {
        io.to(scopeRoom(event, scope)).emit(event, data);
      },
    },
    async close() {
      await io.close();
      if (redis) for (const client of redis) client.disconnect();
    },
  };
}

function scopeRoom(event, scope) {
  return `scope\u0000${event}\u0000${scope}`;
}

async function redisAdapter(io, url) {
  const [{ createAdapter }, { Redis }] = await Promise.all([import('@socket.io/redis-adapter'), import('ioredis')]);
  const pub = new Redis(url);
  const sub = pub.duplicate();
  io.adapter(createAdapter(pub, sub));
  return [pub, sub];
}
