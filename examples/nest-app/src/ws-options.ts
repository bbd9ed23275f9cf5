import { Logger } from '@nestjs/common';
import type { WsModuleOptions } from '@wshub/nest';

/**
 * The hub's options. One process needs none. Several processes behind a
 * load balancer need a shared broker so a message reaches a user on any of
 * them: with `REDIS_URL` set, this is the place to create a `RedisBroker`
 * from `@wshub/redis` and return it as `broker`.
 */
export async function createWsOptions(env: NodeJS.ProcessEnv = process.env): Promise<WsModuleOptions> {
  if (env.REDIS_URL) {
    new Logger('WsOptions').warn('REDIS_URL is set, but this demo has no broker wired yet: running as one node.');
  }
  return {};
}
