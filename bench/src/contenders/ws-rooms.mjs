/**
 * The plumbing every hand-rolled `ws` contender shares: token auth on
 * connect, per-user rooms, and watch registration. Only the delivery loops
 * differ between contenders, so only they are measured against each other.
 */
import { WebSocket, WebSocketServer } from 'ws';

export const OPEN = WebSocket.OPEN;

/**
 * @param {import('./contract.mjs').StartContext} ctx
 * @param {{ indexScopes: boolean }} options `indexScopes`: keep an
 *   (event, scope) → sockets index; without it, scoped delivery scans every
 *   socket's `watching` map, as the original module does.
 */
export function wsRooms(ctx, { indexScopes }) {
  const wss = new WebSocketServer({
    server: ctx.server,
    path: ctx.path,
    perMessageDeflate: false,
    clientTracking: false,
    maxPayload: 64 * 1024,
  });
  /** @type {Map<string, Set<WebSocket>>} */
  const rooms = new Map();
  /** @type {Set<WebSocket>} */
  const sockets = new Set();
  /** @type {Map<string, Set<WebSocket>>} key `${event}\u0000${scope}` */
  const scopes = new Map();

  wss.on('connection', (ws, req) => {
    let user;
    try {
      user = ctx.authenticate(req);
    } catch {
      ws.close(4403, 'unauthorized');
      return;
    }
    ws.on('error', () => {});
    ws.user = user;
    ws.watching = new Map();
    sockets.add(ws);
    let room = rooms.get(user.id);
    if (!room) {
      room = new Set();
      rooms.set(user.id, room);
    }
    room.add(ws);
    ws.on('message', (raw) => {
      let frame;
      try {
        frame = JSON.parse(raw.toString());
      } catch {
        ws.close(4400, 'invalid message');
        return;
      }
      if (frame?.event !== 'watch' || typeof frame.data?.event !== 'string') return;
      const { event } = frame.data;
      const scope = frame.data.payload == null ? null : String(frame.data.payload);
      let set = ws.watching.get(event);
      if (!set) {
        set = new Set();
        ws.watching.set(event, set);
      }
      set.add(scope);
      if (indexScopes) {
        const key = `${event}\u0000${scope}`;
        let watchers = scopes.get(key);
        if (!watchers) {
          watchers = new Set();
          scopes.set(key, watchers);
        }
        watchers.add(ws);
      }
      ctx.onWatch();
    });
    ws.on('close', () => {
      sockets.delete(ws);
      room.delete(ws);
      if (room.size === 0 && rooms.get(user.id) === room) rooms.delete(user.id);
      if (indexScopes) {
        for (const [event, set] of ws.watching) {
          for (const scope of set) {
            const key = `${event}\u0000${scope}`;
            const watchers = scopes.get(key);
            watchers?.delete(ws);
            if (watchers?.size === 0) scopes.delete(key);
          }
        }
      }
    });
    ctx.onReady();
  });

  return {
    rooms,
    sockets,
    /** Sockets watching (event, scope), from the index. */
    watchers(event, scope) {
      return scopes.get(`${event}\u0000${scope}`) ?? EMPTY;
    },
    /** One `[userId, user]` per connected user. */
    *users() {
      for (const [userId, room] of rooms) {
        const first = room.values().next().value;
        if (first) yield [userId, first.user];
      }
    },
    close() {
      for (const ws of sockets) ws.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

const EMPTY = new Set();

/**
 * Runs `task` over `items` with at most `limit` pending promises: the
 * hand-rolled answer to "await a callback per user" without an unbounded
 * fan-out.
 */
export async function bounded(items, limit, task) {
  const iterator = items[Symbol.iterator]();
  const worker = async () => {
    for (let next = iterator.next(); !next.done; next = iterator.next()) await task(next.value);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
