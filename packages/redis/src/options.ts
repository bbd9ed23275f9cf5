import { describeValue, optionError } from '@wshub/core';
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
   * A channel the node subscribed that Redis has not confirmed after this
   * long, on a subscriber connection that answers, replaces that connection:
   * its users' sockets close (1012) for a resume; three times as long while
   * Redis still confirms other channels on it (a large re-subscribe).
   * Before, a channel unconfirmed for `commandTimeoutMs` is subscribed again
   * (on Redis Cluster, after re-reading the slot map).
   * @default 10000
   */
  subscribeTimeoutMs?: number;
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
  /**
   * With `recovery`: recorded messages sent to Redis and not answered yet,
   * plus those queued behind them, at most this many. Past it,
   * `sendMessage`/`push` wait (their promises settle later) until Redis has
   * answered enough of them, so an app that sends faster than Redis records
   * is slowed to Redis's pace instead of running out of memory. Await them.
   * @default 4096
   */
  recordMaxInFlight?: number;
  /**
   * …and at most this many bytes of them (message text, in UTF-16 units).
   * @default 8388608 (8 MiB)
   */
  recordMaxInFlightBytes?: number;
  /**
   * Flow control for publishes: when more than this many bytes (of message
   * text, in UTF-16 units) were published to Redis and not answered yet,
   * `sendMessage`/`push` wait (their promises settle later) until Redis has
   * answered half of them, or `commandTimeoutMs` passed. An app's loop of
   * sends is slowed to Redis's pace instead of running out of memory. Await
   * them.
   * @default 1048576 (1 MiB)
   */
  highWaterMarkBytes?: number;
  /**
   * …and at this many a send is refused: `sendMessage`/`push` reject with a
   * `RangeError` and deliver nothing. Only an app that does not await its
   * sends (or Redis that stopped answering) gets there. With recovery, the
   * recordings queued and in flight count too. At least `highWaterMarkBytes`,
   * and more than `recordMaxInFlightBytes`.
   * @default 16777216 (16 MiB)
   */
  maxQueuedBytes?: number;
  /**
   * With `recovery` on Redis Cluster: how long a recorded message waits at
   * a node before it is delivered, so that a user's messages and the
   * broadcasts, which come from two shards over two connections, leave in
   * offset order. One that arrives later than this behind a higher offset is
   * not delivered: its recipients' sockets close and their resume answers
   * `recovered: false`. Larger: fewer of those under load, more latency.
   * @default 50
   */
  orderWindowMs?: number;
}

export interface ResolvedRedisBrokerOptions {
  prefix: string;
  nodeHeartbeatMs: number;
  nodeTtlMs: number;
  commandTimeoutMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  subscribeTimeoutMs: number;
  bufferMaxMessages: number;
  bufferMaxBytes: number;
  bufferMaxAgeMs: number;
  bufferFlushDelayMs: number;
  reconnectMaxDelayMs: number;
  recordMaxInFlight: number;
  recordMaxInFlightBytes: number;
  highWaterMarkBytes: number;
  maxQueuedBytes: number;
  orderWindowMs: number;
}

export const DEFAULT_REDIS_BROKER_OPTIONS: Readonly<ResolvedRedisBrokerOptions> = Object.freeze({
  prefix: 'wshub',
  nodeHeartbeatMs: 3000,
  nodeTtlMs: 10_000,
  commandTimeoutMs: 2000,
  probeIntervalMs: 2000,
  probeTimeoutMs: 2000,
  subscribeTimeoutMs: 10_000,
  bufferMaxMessages: 1000,
  bufferMaxBytes: 8 * 1024 * 1024,
  bufferMaxAgeMs: 10_000,
  bufferFlushDelayMs: 1500,
  reconnectMaxDelayMs: 1000,
  recordMaxInFlight: 4096,
  recordMaxInFlightBytes: 8 * 1024 * 1024,
  highWaterMarkBytes: 1024 * 1024,
  maxQueuedBytes: 16 * 1024 * 1024,
  orderWindowMs: 50,
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
    subscribeTimeoutMs: positive('subscribeTimeoutMs', options.subscribeTimeoutMs, d.subscribeTimeoutMs, 10),
    bufferMaxMessages: positive('bufferMaxMessages', options.bufferMaxMessages, d.bufferMaxMessages, 0),
    bufferMaxBytes: positive('bufferMaxBytes', options.bufferMaxBytes, d.bufferMaxBytes, 0),
    bufferMaxAgeMs: positive('bufferMaxAgeMs', options.bufferMaxAgeMs, d.bufferMaxAgeMs),
    bufferFlushDelayMs: positive('bufferFlushDelayMs', options.bufferFlushDelayMs, d.bufferFlushDelayMs, 0),
    reconnectMaxDelayMs: positive('reconnectMaxDelayMs', options.reconnectMaxDelayMs, d.reconnectMaxDelayMs, 10),
    recordMaxInFlight: positive('recordMaxInFlight', options.recordMaxInFlight, d.recordMaxInFlight),
    recordMaxInFlightBytes: positive('recordMaxInFlightBytes', options.recordMaxInFlightBytes, d.recordMaxInFlightBytes, 1024),
    highWaterMarkBytes: positive('highWaterMarkBytes', options.highWaterMarkBytes, d.highWaterMarkBytes, 1024),
    maxQueuedBytes: positive('maxQueuedBytes', options.maxQueuedBytes, d.maxQueuedBytes, 1024),
    orderWindowMs: positive('orderWindowMs', options.orderWindowMs, d.orderWindowMs, 0),
  };
  if (resolved.maxQueuedBytes < resolved.highWaterMarkBytes) {
    throw optionError('RedisBroker', 'maxQueuedBytes', `at least highWaterMarkBytes (${resolved.highWaterMarkBytes})`, resolved.maxQueuedBytes);
  }
  if (resolved.nodeTtlMs < 2 * resolved.nodeHeartbeatMs) {
    throw new TypeError(
      `wshub RedisBroker: option "nodeTtlMs" (${resolved.nodeTtlMs}) must be at least twice "nodeHeartbeatMs" (${resolved.nodeHeartbeatMs}), or a live node would drop out of presence between heartbeats`,
    );
  }
  const given = (['url', 'client', 'cluster'] as const).filter((name) => options[name] !== undefined);
  if (given.length > 1) {
    throw new TypeError(`wshub: RedisBroker takes one of "url", "client" and "cluster", got ${given.map((n) => `"${n}"`).join(' and ')}`);
  }
  if (options.cluster !== undefined) {
    const bad = clusterNodesProblem(options.cluster);
    if (bad) throw new TypeError(`wshub RedisBroker: option "cluster" must be a non-empty array of { host, port } objects or redis:// URLs, got ${bad}`);
  }
  if (options.clusterOptions !== undefined && options.cluster === undefined) {
    throw new TypeError('wshub RedisBroker: option "clusterOptions" applies only with "cluster"');
  }
  // Checked here rather than by ioredis, whose URL error carries the whole URL, password too, in its `input`.
  if (options.url !== undefined && (typeof options.url !== 'string' || !isRedisUrl(options.url))) {
    throw optionError('RedisBroker', 'url', 'a redis:// or rediss:// URL', withoutCredentials(options.url));
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

/**
 * A URL-like string with its user, password and query masked, so that an
 * error never carries a credential into logs (`redis://:secret@host` →
 * `redis://***@host`); anything else as it is. Up to the last `@`, since a
 * password may hold `@` or `/` unescaped.
 */
function withoutCredentials(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, (_, scheme: string | undefined) => `${scheme ?? ''}***@`).replace(/\?.*$/s, '?***');
}

/** What is wrong with a `cluster` option, described without contents that may be secret; `undefined` when it is right. */
function clusterNodesProblem(nodes: unknown): string | undefined {
  if (!Array.isArray(nodes)) return describeValue(withoutCredentials(nodes));
  if (nodes.length === 0) return 'an empty array';
  const i = nodes.findIndex((node) => !isClusterNode(node));
  return i < 0 ? undefined : `an array whose entry ${i} is ${describeValue(withoutCredentials(nodes[i]))}`;
}

function isRedisUrl(url: string): boolean {
  return /^rediss?:\/\//.test(url) && URL.canParse(url);
}

function isClusterNode(node: unknown): boolean {
  if (typeof node === 'string') return isRedisUrl(node);
  if (typeof node === 'number') return Number.isInteger(node);
  const n = node as { host?: unknown; port?: unknown } | null;
  return typeof n === 'object' && n !== null && (n.host === undefined || typeof n.host === 'string') && (n.port === undefined || Number.isInteger(n.port));
}
