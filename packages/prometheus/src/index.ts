export { AUTH_BUCKETS, DELIVERY_BUCKETS, WATCH_BUCKETS, collectHubMetrics } from './hub-metrics.js';
export type { HubMetricsOptions, MeasuredHub } from './hub-metrics.js';
export { BROKER_METRICS } from './broker-metrics.js';
export type { BrokerMetric } from './broker-metrics.js';
export { collectOutboxMetrics } from './outbox-metrics.js';
export type { MeasuredOutbox, MeasuredRelay, OutboxMetricsOptions } from './outbox-metrics.js';
