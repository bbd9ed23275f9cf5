/**
 * Hand-rolled `ws`, serialize once: one `JSON.stringify` per message, then
 * `send(string)` to each recipient (ws frames and writes per socket).
 * Scoped delivery uses an index; `allow` callbacks run 128 at a time.
 */
import { bounded, OPEN, wsRooms } from './ws-rooms.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  const hub = wsRooms(ctx, { indexScopes: true });
  const sendAll = (sockets, text) => {
    for (const ws of sockets) if (ws.readyState === OPEN) ws.send(text);
  };
  return {
    deliver: {
      broadcast(event, data) {
        sendAll(hub.sockets, JSON.stringify({ event, data }));
      },
      toUser(userId, event, data) {
        const room = hub.rooms.get(userId);
        if (room) sendAll(room, JSON.stringify({ event, data }));
      },
      async pushAllow(event, data, allow) {
        const text = JSON.stringify({ event, data });
        await bounded(hub.users(), 128, async ([userId, user]) => {
          if (!(await allow(user))) return;
          const room = hub.rooms.get(userId);
          if (room) sendAll(room, text);
        });
      },
      scoped(event, scope, data) {
        const watchers = hub.watchers(event, scope);
        if (watchers.size > 0) sendAll(watchers, JSON.stringify({ event, data }));
      },
    },
    close: () => hub.close(),
  };
}
