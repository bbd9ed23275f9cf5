/** wshub: `WsHub` from `@wshub/core`, called directly. */
import { WsHub } from '@wshub/core';
import { throttledAuth } from '../lib/auth-queue.mjs';

/**
 * @param {import('./contract.mjs').StartContext} ctx
 * @param {object} [extra] more hub options (scenario H passes its broker)
 */
export async function start(ctx, extra = {}) {
  const { heartbeatMs, authRate = 0 } = ctx.options ?? {};
  const hub = new WsHub({
    ...extra,
    path: ctx.path,
    authenticate: throttledAuth(ctx.authenticate, authRate),
    ...(heartbeatMs ? { heartbeatMs } : {}),
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
