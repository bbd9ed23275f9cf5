/** wshub: `WsHub` from `@wshub/core`, called directly. */
import { WsHub } from '@wshub/core';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  const hub = new WsHub({
    path: ctx.path,
    authenticate: ctx.authenticate,
    canWatch: () => {
      // Called right before the watch is registered (synchronously).
      ctx.onWatch();
      return true;
    },
  });
  let errors = 0;
  hub.on('error', () => {
    errors++;
  });
  hub.on('ready', () => ctx.onReady());
  hub.attach(ctx.server);
  return {
    deliver: {
      broadcast: (event, data) => hub.push(event, data),
      toUser: (userId, event, data) => hub.sendMessage(userId, event, data),
      pushAllow: (event, data, allow) => hub.push(event, data, allow),
      scoped: (event, scope, data) => hub.push(event, data, undefined, scope),
    },
    close: () => hub.close(),
    stats() {
      const { dropped, slowConsumers, messagesOut } = hub.stats();
      return { dropped, slowConsumers, messagesOut, errors };
    },
  };
}
