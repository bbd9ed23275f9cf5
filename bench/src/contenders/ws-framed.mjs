/** A `ws` contender whose deliveries go through a frame writer (see ws-frame.mjs). */
import { bounded, OPEN, wsRooms } from './ws-rooms.mjs';

export function framedContender(frameOf, write) {
  /** @param {import('./contract.mjs').StartContext} ctx */
  return async function start(ctx) {
    const hub = wsRooms(ctx, { indexScopes: true });
    const writeAll = (sockets, frame) => {
      for (const ws of sockets) if (ws.readyState === OPEN) write(ws, frame);
    };
    return {
      deliver: {
        broadcast(event, data) {
          writeAll(hub.sockets, frameOf(JSON.stringify({ event, data })));
        },
        toUser(userId, event, data) {
          const room = hub.rooms.get(userId);
          if (room) writeAll(room, frameOf(JSON.stringify({ event, data })));
        },
        async pushAllow(event, data, allow) {
          const frame = frameOf(JSON.stringify({ event, data }));
          await bounded(hub.users(), 128, async ([userId, user]) => {
            if (!(await allow(user))) return;
            const room = hub.rooms.get(userId);
            if (room) writeAll(room, frame);
          });
        },
        scoped(event, scope, data) {
          const watchers = hub.watchers(event, scope);
          if (watchers.size > 0) writeAll(watchers, frameOf(JSON.stringify({ event, data })));
        },
      },
      close: () => hub.close(),
    };
  };
}
