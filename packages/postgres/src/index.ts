export { Outbox } from './outbox.js';
export type { OutboxOptions, OutboxStats, PoolClientLike, PoolLike, Queryable } from './outbox.js';
export { OutboxRelay } from './relay.js';
export type { RelayOptions, RelayStats, RelayTarget } from './relay.js';
export { DEFAULT_TABLE, outboxSql } from './schema.js';
