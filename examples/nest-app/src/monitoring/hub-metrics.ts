import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { Hub } from '@wshub/nest';
import { collectHubMetrics } from '@wshub/prometheus';
import { register } from 'prom-client';

/**
 * prom-client's default metrics that are gauges named like counters
 * (`*_total`): `promtool check metrics` rejects a scrape that has them.
 */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * The hub's metrics on prom-client's global registry: the one
 * `PrometheusModule` (`@willsoto/nestjs-prometheus`) serves on `GET /metrics`,
 * beside its default process metrics (less the three promtool rejects).
 */
@Injectable()
export class HubMetrics implements OnModuleInit, OnModuleDestroy {
  private remove: (() => void) | undefined;

  constructor(@Inject(Hub) private readonly hub: Hub) {}

  onModuleInit(): void {
    // PrometheusModule registered its defaults when its module was set up, before this runs.
    for (const name of MISNAMED_DEFAULTS) register.removeSingleMetric(name);
    this.remove = collectHubMetrics(this.hub);
  }

  onModuleDestroy(): void {
    this.remove?.();
  }
}
