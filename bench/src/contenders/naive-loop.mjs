/**
 * The original NestJS module's delivery algorithm, written from its
 * description: every recipient gets its own `serialize` + `JSON.stringify`
 * + `send`; `push` with `allow` awaits one user after another; scoped
 * delivery scans every socket's `watching` map.
 */
import { OPEN, wsRooms } from './ws-rooms.mjs';

/** @param {(data: unknown) => unknown} serialize run once per recipient, as the original does */
export function naiveLoop(serialize) {
  /** @param {import('./contract.mjs').StartContext} ctx */
  return async function start(ctx) {
    const hub = wsRooms(ctx, { indexScopes: false });
    const sendTo = (ws, event, data) => {
      if (ws.readyState === OPEN) ws.send(JSON.stringify({ event, data: serialize(data) }));
    };
    return {
      deliver: {
        broadcast(event, data) {
          for (const ws of hub.sockets) sendTo(ws, event, data);
        },
        toUser(userId, event, data) {
          const room = hub.rooms.get(userId);
          if (room) for (const ws of room) sendTo(ws, event, data);
        },
        async pushAllow(event, data, allow) {
          for (const [userId, user] of [...hub.users()]) {
            if (!(await allow(user))) continue;
            const room = hub.rooms.get(userId);
            if (room) for (const ws of room) sendTo(ws, event, data);
          }
        },
        scoped(event, scope, data) {
          for (const ws of hub.sockets) if (ws.watching.get(event)?.has(scope)) sendTo(ws, event, data);
        },
      },
      close: () => hub.close(),
    };
  };
}
