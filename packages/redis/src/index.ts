export { RedisBroker } from './redis-broker.js';
export { RedisUnavailableError } from './redis-unavailable-error.js';
export { DEFAULT_REDIS_BROKER_OPTIONS, resolveRedisBrokerOptions } from './options.js';
export type { RedisBrokerOptions, ResolvedRedisBrokerOptions } from './options.js';
export type { RedisBrokerStats } from './redis-broker-stats.js';
