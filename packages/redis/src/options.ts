import { optionError } from '@wshub/core';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/** Options of {@link RedisBroker}. Times are in milliseconds. */
export interface RedisBrokerOptions {
  /**
   * Where Redis is, e.g. `redis://:password@10.0.0.5:6379/0`. Give this or `client`, not both.
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string;
  /**
   * Your own ioredis client: a `Redis`, or a `Cluster` for Redis Cluster. The
   * broker publishes and keeps presence on it, and subscribes on connections
   * of its own (`client.duplicate()`, or one per cluster master). `close()`
   * leaves it open: it is yours.
   */
  client?: Redis | Cluster;
  /**
   * Redis Cluster (Redis 7 or later): some of its nodes, e.g.
   * `[{ host: '10.0.0.5', port: 7000 }, 'redis://10.0.0.6:7000']`; the rest
   * are discovered. The broker then uses sharded pub/sub (SPUBLISH /
   * SSUBSCRIBE), with one subscriber connection per master. Give `url`,
   * `client` or `cluster`, one of them.
   */
  cluster?: ClusterNode[];
  /**
   * Extra ioredis `Cluster` options for `cluster` (`redisOptions` for TLS and
   * passwords, `natMap`, `slotsRefreshInterval`, …). The broker sets
   * `enableOfflineQueue` and `clusterRetryStrategy` itself.
   */
  clusterOptions?: ClusterOptions;
  /**
   * Extra ioredis options for the connections the broker creates from `url`
   * (TLS, `connectTimeout`, …). The broker sets `enableOfflineQueue`,
   * `autoResubscribe`, `autoResendUnfulfilledCommands` and `retryStrategy` itself.
   */
  redisOptions?: RedisOptions;
  /**
   * First part of every channel and key name, so several hubs can share one Redis.
   * @default 'wshub'
   */
  prefix?: string;
  /**
   * How often a node refreshes its presence records in Redis (its
   * heartbeat) and settles dead nodes. Not the hub's `heartbeatMs`, which
   * pings clients.
   * @default 3000
   */
  nodeHeartbeatMs?: number;
  /**
   * How long a node's presence records live without a heartbeat: a node that
   * dies without cleaning up leaves presence within this time. Must be at
   * least twice `nodeHeartbeatMs`.
   * @default 10000
   */
  nodeTtlMs?: number;
  /**
   * Longest wait for a Redis answer before a presence query rejects.
   * @default 2000
   */
  commandTimeoutMs?: number;
  /**
   * How often the subscriber connection is checked with a self-addressed probe.
   * @default 2000
   */
  probeIntervalMs?: number;
  /**
   * How long a probe may take to come back before the subscriber connection is replaced.
   * @default 2000
   */
  probeTimeoutMs?: number;
  /**
   * Cross-node publishes held while Redis is unreachable, at most this many;
   * the oldest are dropped first.
   * @default 1000
   */
  bufferMaxMessages?: number;
  /**
   * …and at most this many bytes of message text.
   * @default 8388608 (8 MiB)
   */
  bufferMaxBytes?: number;
  /**
   * …and none older than this when Redis is back: stale notifications are dropped, not sent late.
   * @default 10000
   */
  bufferMaxAgeMs?: number;
  /**
   * How long after reconnecting the held publishes wait before they are sent,
   * so that the other nodes have re-subscribed too. Keep it above
   * `reconnectMaxDelayMs` of every node.
   * @default 1500
   */
  bufferFlushDelayMs?: number;
  /**
   * Longest pause between reconnect attempts of the connections the broker
   * creates (the delay grows by 100 ms per attempt up to this).
   * @default 1000
   */
  reconnectMaxDelayMs?: number;
}

export interface ResolvedRedisBrokerOptions {
  prefix: string;
  nodeHeartbeatMs: number;
  nodeTtlMs: number;
  commandTimeoutMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  bufferMaxMessages: number;
  bufferMaxBytes: number;
  bufferMaxAgeMs: number;
  bufferFlushDelayMs: number;
  reconnectMaxDelayMs: number;
}

export const DEFAULT_REDIS_BROKER_OPTIONS: Readonly<ResolvedRedisBrokerOptions> = Object.freeze({
  prefix: 'wshub',
  nodeHeartbeatMs: 3000,
  nodeTtlMs: 10_000,
  commandTimeoutMs: 2000,
  probeIntervalMs: 2000,
  probeTimeoutMs: 2000,
  bufferMaxMessages: 1000,
  bufferMaxBytes: 8 * 1024 * 1024,
  bufferMaxAgeMs: 10_000,
  bufferFlushDelayMs: 1500,
  reconnectMaxDelayMs: 1000,
});

function positive(name: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw optionError('RedisBroker', name, `an integer of at least ${min}`, value);
  }
  return value;
}

/** Checks the options and fills in defaults; throws a `TypeError` naming the wrong option. */
export function resolveRedisBrokerOptions(options: RedisBrokerOptions): ResolvedRedisBrokerOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('wshub: new RedisBroker(options) needs an options object, e.g. { url: "redis://127.0.0.1:6379" }');
  }
  if ('heartbeatMs' in options) {
    // Renamed: the hub's own `heartbeatMs` pings clients; this one is the node's heartbeat in Redis.
    throw new TypeError('wshub RedisBroker: option "heartbeatMs" is now "nodeHeartbeatMs" (the hub\'s heartbeatMs pings clients)');
  }
  const d = DEFAULT_REDIS_BROKER_OPTIONS;
  const resolved: ResolvedRedisBrokerOptions = {
    prefix: options.prefix ?? d.prefix,
    nodeHeartbeatMs: positive('nodeHeartbeatMs', options.nodeHeartbeatMs, d.nodeHeartbeatMs, 10),
    nodeTtlMs: positive('nodeTtlMs', options.nodeTtlMs, d.nodeTtlMs, 20),
    commandTimeoutMs: positive('commandTimeoutMs', options.commandTimeoutMs, d.commandTimeoutMs),
    probeIntervalMs: positive('probeIntervalMs', options.probeIntervalMs, d.probeIntervalMs, 10),
    probeTimeoutMs: positive('probeTimeoutMs', options.probeTimeoutMs, d.probeTimeoutMs, 10),
    bufferMaxMessages: positive('bufferMaxMessages', options.bufferMaxMessages, d.bufferMaxMessages, 0),
    bufferMaxBytes: positive('bufferMaxBytes', options.bufferMaxBytes, d.bufferMaxBytes, 0),
    bufferMaxAgeMs: positive('bufferMaxAgeMs', options.bufferMaxAgeMs, d.bufferMaxAgeMs),
    bufferFlushDelayMs: positive('bufferFlushDelayMs', options.bufferFlushDelayMs, d.bufferFlushDelayMs, 0),
    reconnectMaxDelayMs: positive('reconnectMaxDelayMs', options.reconnectMaxDelayMs, d.reconnectMaxDelayMs, 10),
  };
  if (resolved.nodeTtlMs < 2 * resolved.nodeHeartbeatMs) {
    throw new TypeError(
      `wshub RedisBroker: option "nodeTtlMs" (${resolved.nodeTtlMs}) must be at least twice "nodeHeartbeatMs" (${resolved.nodeHeartbeatMs}), or a live node would drop out of presence between heartbeats`,
    );
  }
  const given = (['url', 'client', 'cluster'] as const).filter((name) => options[name] !== undefined);
  if (given.length > 1) {
    throw new TypeError(`wshub: RedisBroker takes one of "url", "client" and "cluster", got ${given.map((n) => `"${n}"`).join(' and ')}`);
  }
  if (
    options.cluster !== undefined &&
    (!Array.isArray(options.cluster) || options.cluster.length === 0 || !options.cluster.every(isClusterNode))
  ) {
    throw new TypeError(
      `wshub RedisBroker: option "cluster" must be a non-empty array of { host, port } objects or redis:// URLs, got ${JSON.stringify(options.cluster) ?? String(options.cluster)}`,
    );
  }
  if (options.clusterOptions !== undefined && options.cluster === undefined) {
    throw new TypeError('wshub RedisBroker: option "clusterOptions" applies only with "cluster"');
  }
  if (options.url !== undefined && (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url))) {
    throw new TypeError(
      `wshub RedisBroker: option "url" must be a redis:// or rediss:// URL, got ${JSON.stringify(options.url) ?? String(options.url)}`,
    );
  }
  if (options.client !== undefined && !isIoredisClient(options.client)) {
    throw new TypeError(
      'wshub RedisBroker: option "client" must be an ioredis client (new Redis(...) or new Cluster(...) from the "ioredis" package); other clients are not supported',
    );
  }
  return resolved;
}

function isIoredisClient(client: unknown): client is Redis | Cluster {
  const c = client as (Partial<Redis> & { isCluster?: boolean }) | null;
  return (
    typeof c === 'object' &&
    c !== null &&
    typeof c.status === 'string' &&
    typeof c.duplicate === 'function' &&
    typeof c.publish === 'function' &&
    typeof c.multi === 'function' &&
    (c.isCluster !== true || typeof c.spublish === 'function')
  );
}

function isClusterNode(node: unknown): boolean {
  if (typeof node === 'string') return /^rediss?:\/\//.test(node);
  if (typeof node === 'number') return Number.isInteger(node);
  const n = node as { host?: unknown; port?: unknown } | null;
  return typeof n === 'object' && n !== null && (n.host === undefined || typeof n.host === 'string') && (n.port === undefined || Number.isInteger(n.port));
}
