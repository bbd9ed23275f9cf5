import { Inject, Injectable } from '@nestjs/common';
import type { RelayHealth, RelayHealthOptions } from '@wshub/postgres';
import { OutboxRelayHost } from './outbox-relay.host.js';

/**
 * What the indicator returns: `@nestjs/terminus`'s `HealthIndicatorResult`
 * shape, declared here so that this module loads without terminus installed.
 */
export type WsOutboxHealthResult<Key extends string = 'wshub-outbox'> = Record<
  Key,
  { status: 'up' | 'down' } & Omit<RelayHealth, 'ready'>
>;

/**
 * A `@nestjs/terminus` (11 or 12) health indicator for the app's outbox
 * relay (see `relay.health()`): `up` while it delivers or stands by behind
 * a relay that does; `down` while PostgreSQL fails it, when the oldest
 * pending row is older than `maxPendingAgeSeconds`, or once it stopped.
 * An app that runs no relay (`relay: false`) is reported down: check the
 * relay where it runs.
 *
 * ```ts
 * @Get('health/ready')
 * @HealthCheck()
 * ready() {
 *   return this.health.check([() => this.wsHub.isHealthy(), () => this.outbox.isHealthy()]);
 * }
 * ```
 */
@Injectable()
export class WsOutboxHealthIndicator {
  constructor(@Inject(OutboxRelayHost) private readonly host: OutboxRelayHost) {}

  /** The relay's health under `key` (`'wshub-outbox'`), as terminus reads it. */
  isHealthy(): Promise<WsOutboxHealthResult>;
  isHealthy<const Key extends string>(key: Key, options?: RelayHealthOptions): Promise<WsOutboxHealthResult<Key>>;
  async isHealthy(key = 'wshub-outbox', options?: RelayHealthOptions): Promise<WsOutboxHealthResult<string>> {
    const relay = this.host.current;
    if (!relay) {
      const none = { role: 'stopped' as const, pending: undefined, oldestPendingSeconds: undefined, deadLettered: undefined, failures: 0, lastError: undefined };
      return { [key]: { status: 'down', ...none, problems: ['this app runs no outbox relay (relay: false)'] } };
    }
    const { ready, ...details } = await relay.health(options);
    return { [key]: { status: ready ? 'up' : 'down', ...details } };
  }
}
