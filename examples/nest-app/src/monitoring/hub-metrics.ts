import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Hub } from '@wshub/nest';
import { collectHubMetrics } from '@wshub/prometheus';

/**
 * The hub's metrics on prom-client's global registry: the one
 * `PrometheusModule` (`@willsoto/nestjs-prometheus`) serves on `GET /metrics`,
 * beside its default process metrics.
 */
@Injectable()
export class HubMetrics implements OnModuleInit, OnModuleDestroy {
  private remove: (() => void) | undefined;

  constructor(@Inject(Hub) private readonly hub: Hub) {}

  onModuleInit(): void {
    this.remove = collectHubMetrics(this.hub);
  }

  onModuleDestroy(): void {
    this.remove?.();
  }
}
