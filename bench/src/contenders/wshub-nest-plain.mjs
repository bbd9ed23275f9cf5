/**
 * wshub through `@wshub/nest`, with the message as a plain object literal
 * (what an app that builds `{ ... }` in place sends) instead of the DTO
 * instance: the module skips `instanceToPlain` for plain data, so this is
 * the binding's own cost — the CommandBus and the command object — next to
 * wshub-nest.mjs, which pays for class-transformer on every message.
 */
import { start as startNestApp } from './wshub-nest.mjs';

/** @param {import('./contract.mjs').StartContext} ctx */
export async function start(ctx) {
  const app = await startNestApp(ctx);
  const { broadcast, toUser } = app.deliver;
  return {
    ...app,
    deliver: {
      broadcast: (event, data) => broadcast(event, { ...data }),
      toUser: (userId, event, data) => toUser(userId, event, { ...data }),
    },
  };
}
