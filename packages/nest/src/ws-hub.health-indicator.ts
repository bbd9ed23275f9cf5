import { Inject, Injectable } from '@nestjs/common';
import { Hub, type HubHealth, type HubHealthOptions, type HubUser, hubHealth } from '@wshub/core';

/**
 * What the indicator returns: `@nestjs/terminus`'s `HealthIndicatorResult`
 * shape, declared here so that this module loads without terminus installed.
 */
export type WsHubHealthResult<Key extends string = 'wshub'> = Record<
  Key,
  { status: 'up' | 'down' } & Omit<HubHealth, 'ready'>
>;

/**
 * A `@nestjs/terminus` (11 or 12) health indicator for the module's hub:
 * `up` while the hub accepts connections, its broker is reachable and the
 * event loop is on time; `down` from the moment the hub starts closing (the
 * app's shutdown), so a readiness probe fails while the hub drains its sockets.
 *
 * ```ts
 * @Get('health/ready')
 * @HealthCheck()
 * ready() {
 *   return this.health.check([() => this.wsHub.isHealthy()]);
 * }
 * ```
 *
 * It imports nothing of terminus: a `down` result is a plain result whose
 * status terminus 11 and 12 turn into 503. Terminus 10 counts only thrown
 * errors as failures, so it would report such a hub healthy: use 11 (it
 * supports NestJS 10 and 11) or 12.
 */
@Injectable()
export class WsHubHealthIndicator {
  constructor(@Inject(Hub) private readonly hub: Hub<HubUser>) {}

  /** The hub's health under `key` (`'wshub'`), as terminus reads it. */
  isHealthy(): WsHubHealthResult;
  isHealthy<const Key extends string>(key: Key, options?: HubHealthOptions): WsHubHealthResult<Key>;
  isHealthy(key = 'wshub', options?: HubHealthOptions): WsHubHealthResult<string> {
    const { ready, ...details } = hubHealth(this.hub, options);
    return { [key]: { status: ready ? 'up' : 'down', ...details } };
  }
}
