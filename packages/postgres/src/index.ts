export { Outbox } from './outbox.js';
export type { OutboxOptions, PoolClientLike, PoolLike, Queryable } from './outbox.js';
export type { OutboxStats, RelayHealth, RelayHealthOptions } from './relay-health.js';
export { OutboxRelay } from './relay.js';
export type { RelayOptions, RelayStats, RelayTarget } from './relay.js';
export { DEFAULT_TABLE, outboxSql } from './schema.js';
