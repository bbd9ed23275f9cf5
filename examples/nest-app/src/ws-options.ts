import type { WsModuleOptions } from '@wshub/nest';
import { RedisBroker } from '@wshub/redis';

/**
 * The hub's options. One process needs none. Several processes behind a
 * load balancer need a shared broker so a message reaches a user on any of
 * them: with `REDIS_URL` set (e.g. `redis://127.0.0.1:6379`), the hub runs on
 * a `RedisBroker` from `@wshub/redis`.
 */
export async function createWsOptions(env: NodeJS.ProcessEnv = process.env): Promise<WsModuleOptions> {
  if (env.REDIS_URL) return { broker: new RedisBroker({ url: env.REDIS_URL }) };
  return {};
}
