import { type BrokerNode, ClusterBroker, type MessageHistory, type RecoveryLimits } from '@wshub/core';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { CommandConnection } from './command-connection.js';
import { type RedisBrokerOptions, type ResolvedRedisBrokerOptions, resolveRedisBrokerOptions } from './options.js';
import { OutagePublisher } from './outage-publisher.js';
import { PublishBacklog } from './publish-backlog.js';
import { PresenceReplicator } from './presence-replicator.js';
import { PresenceStore } from './presence-store.js';
import type { RedisBrokerStats } from './redis-broker-stats.js';
import { ClusterHistory } from './cluster-history.js';
import { type BrokerHistory, RedisHistory } from './redis-history.js';
import { RedisUnavailableError } from './redis-unavailable-error.js';
import { ShardRoutes } from './shard-routes.js';
import { ShardedSubscriber, StandaloneSubscriber, type Subscriber, type SubscriberContext } from './subscriber.js';
import { ThrottledReporter } from './throttled-reporter.js';

/** Least time between two reports of the same recurring failure. */
const REPORT_INTERVAL_MS = 5000;
/** How often a cluster client re-reads the slot map unless `clusterOptions` says otherwise: failovers show within this. */
const SLOTS_REFRESH_MS = 1000;

/**
 * A {@link ClusterBroker} over Redis pub/sub: several `WsHub` processes act
 * as one hub. `ClusterBroker` owns the envelope, the channel layout
 * (`<prefix>:all`, `<prefix>:user:<userId>`), self-echo and validation; this
 * class wires the parts that move bytes through Redis and survive its faults:
 *
 * - {@link CommandConnection}: publishes and presence, ready/lost transitions,
 *   timeouts;
 * - a {@link Subscriber}: the subscribed channels on one connection
 *   ({@link StandaloneSubscriber}) or, on Redis Cluster, sharded over one
 *   connection per master ({@link ShardedSubscriber}); re-subscribed on every
 *   reconnect or failover, each connection checked by a liveness probe;
 * - {@link OutagePublisher}: publishes made while Redis is unreachable are
 *   held in a bounded buffer and sent after reconnecting (never twice); on
 *   a cluster, per slot, through {@link ShardRoutes}, so a shard that fails
 *   over holds only its own;
 * - {@link PresenceReplicator}: this node's users in cluster presence, written
 *   again from the hub's registry after every reconnect, and the cluster-wide
 *   `'presence'` transitions; queries reject at once with
 *   {@link RedisUnavailableError} while Redis is unreachable.
 *
 * With `client`, the commands go on your client and the subscriber
 * connections are the broker's own; `close()` closes only what it created.
 */
export class RedisBroker extends ClusterBroker {
  readonly options: Readonly<ResolvedRedisBrokerOptions>;
  private readonly commands: CommandConnection;
  private readonly makeSubscriber: (nodeId: string) => Subscriber;
  private subscriber: Subscriber | undefined;
  private readonly publisher: OutagePublisher;
  /** Flow control: sends wait while many publishes wait for Redis's answer. */
  private readonly backlog: PublishBacklog;
  /** On Redis Cluster: where each publish goes, and whether its shard takes it now. */
  private readonly routes: ShardRoutes | undefined;
  private readonly reporter: ThrottledReporter;
  private presence: PresenceReplicator | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private closing: Promise<void> | undefined;
  private recorded: BrokerHistory | undefined;
  private recordedReceived = 0;

  constructor(options: RedisBrokerOptions = {}) {
    const resolved = resolveRedisBrokerOptions(options);
    super(resolved.prefix);
    this.options = Object.freeze(resolved);
    this.reporter = new ThrottledReporter((error) => this.report(error), REPORT_INTERVAL_MS);

    // These settings make every command fail fast instead of queueing (so no
    // call hangs and the broker decides what to hold), never re-send a
    // command that may already have reached Redis (so nothing arrives twice),
    // leave re-subscribing to the broker (the wanted channels change during
    // an outage) and keep reconnecting for as long as the broker lives.
    const retry = (attempt: number) => Math.min(attempt * 100, resolved.reconnectMaxDelayMs);
    const forced: RedisOptions = {
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: retry,
    };
    const client = options.client;
    let cmd: Redis | Cluster;
    if (client) {
      cmd = client;
      if (client.status === 'wait') client.connect().catch(() => {});
    } else if (options.cluster) {
      const clusterOptions: ClusterOptions = {
        slotsRefreshInterval: SLOTS_REFRESH_MS,
        ...options.clusterOptions,
        enableOfflineQueue: false,
        clusterRetryStrategy: retry,
        redisOptions: { ...options.clusterOptions?.redisOptions, autoResendUnfulfilledCommands: false, connectionName: 'wshub-pub' },
      };
      cmd = new Cluster(options.cluster, clusterOptions);
    } else {
      cmd = this.standalone(options, forced, 'wshub-pub');
    }
    if (!client) {
      cmd.on('error', (error: Error) => this.connectionFailed('command', error));
      if (cmd instanceof Cluster) cmd.on('node error', (error: Error) => this.connectionFailed('command', error));
    }
    this.commands = new CommandConnection(cmd, !client, resolved.commandTimeoutMs, {
      up: (reconnect) => this.onCommandsUp(reconnect),
      down: (status) => {
        if (!this.closed) this.publisher.connectionDown(status);
      },
    });
    const isCluster = cmd instanceof Cluster || (cmd as { isCluster?: boolean }).isCluster === true;
    this.routes = isCluster ? new ShardRoutes(cmd as Cluster, resolved.bufferFlushDelayMs) : undefined;
    this.backlog = new PublishBacklog({ ...resolved, timeoutMs: resolved.commandTimeoutMs });
    this.publisher = new OutagePublisher({
      ...resolved,
      writable: () => this.commands.writable,
      send: (channel, data) => this.commands.publish(channel, data),
      report: (error) => this.report(error),
      reporter: this.reporter,
      backlog: this.backlog,
      ...(this.routes ? { lanes: this.routes } : {}),
    });

    const ctx: SubscriberContext = {
      message: (channel, data) => this.onMessage(channel, data),
      confirmed: (channels) => {
        this.recorded?.confirmed(channels);
        this.presence?.reachableNow(this.usersOf(channels));
      },
      down: (channels) => {
        if (!this.closed) this.recorded?.subscriberDown(channels);
      },
      failed: (kind, error) => {
        if (kind === 'connection') this.connectionFailed('subscriber', error);
        else this.reporter.report('subscribe', error);
      },
      ready: () => this.reporter.reset('connection:subscriber'),
      report: (error) => {
        if (!this.closed) this.report(error);
      },
      publish: (channel, token) => this.commands.publish(channel, token),
      commandWritable: () => this.commands.writable,
      probeTimeoutMs: resolved.probeTimeoutMs,
      commandTimeoutMs: resolved.commandTimeoutMs,
      subscribeTimeoutMs: resolved.subscribeTimeoutMs,
    };
    if (isCluster) {
      const cluster = cmd as Cluster;
      const nodeOptions: RedisOptions = { ...cluster.options.redisOptions, ...forced, lazyConnect: false, connectionName: 'wshub-sub' };
      this.makeSubscriber = (nodeId) =>
        new ShardedSubscriber(cluster, (host, port) => new Redis({ ...nodeOptions, host, port }), ctx, this.probeChannel(nodeId));
    } else {
      const redis = cmd as Redis;
      const create = client
        ? () => redis.duplicate({ ...forced, lazyConnect: false, connectionName: 'wshub-sub' })
        : () => this.standalone(options, forced, 'wshub-sub');
      this.makeSubscriber = (nodeId) => new StandaloneSubscriber(create, ctx, this.probeChannel(nodeId));
    }
  }

  private standalone(options: RedisBrokerOptions, forced: RedisOptions, name: string): Redis {
    const base: RedisOptions = { ...options.redisOptions, ...forced, lazyConnect: false };
    return options.url !== undefined
      ? new Redis(options.url, { connectionName: name, ...base })
      : new Redis({ host: '127.0.0.1', port: 6379, connectionName: name, ...base });
  }

  // ------------------------------------------------------------ lifecycle

  override attach(node: BrokerNode): void {
    this.subscriber = this.makeSubscriber(node.nodeId);
    super.attach(node); // subscribes the broadcast channel
    this.presence = new PresenceReplicator({
      node,
      store: new PresenceStore(this.commands.redis, this.prefix, node.nodeId, this.options.nodeTtlMs),
      commands: this.commands,
      reporter: this.reporter,
      reachable: (userId) => this.subscriber?.isConfirmed(this.userChannel(userId)) === true,
      reconcile: (users) => this.reconcileChannels(users),
      ignored: () => this.counters.ignored++,
    });
    this.heartbeatTimer = setInterval(() => this.tick(), this.options.nodeHeartbeatMs);
    this.heartbeatTimer.unref();
    this.probeTimer = setInterval(() => this.subscriber?.probe(), this.options.probeIntervalMs);
    this.probeTimer.unref();
    this.commands.start();
  }

  /**
   * The node-private channel of the subscriber liveness probe; on a cluster,
   * the prefix of one probe channel per master (`<…>:<n>`, `n` chosen so the
   * channel falls in a slot of that master).
   */
  probeChannel(nodeId = this.node?.nodeId ?? ''): string {
    return `${this.prefix}:probe:${nodeId}`;
  }

  private get closed(): boolean {
    return this.closing !== undefined;
  }

  private onCommandsUp(reconnect: boolean): void {
    if (this.closed || !this.node) return;
    this.reporter.reset('connection:command');
    this.presence?.connectionUp();
    this.publisher.connectionUp(reconnect);
    this.recorded?.connectionUp();
  }

  private tick(): void {
    if (this.closed) return;
    this.publisher.expire();
    this.subscriber?.repair();
    void this.presence?.heartbeat();
  }

  // ------------------------------------------------------------- history

  /**
   * The message history for `recovery`, in Redis streams, shared by every
   * node: on one Redis a {@link RedisHistory}, on Redis Cluster a
   * {@link ClusterHistory} (a history per user in its slot, one for the
   * broadcasts). Called by the hub.
   */
  history(limits: RecoveryLimits): MessageHistory {
    if (!this.node || !this.subscriber) throw new Error('wshub: RedisBroker.history() called before a hub attached it');
    if (this.recorded) throw new Error('wshub: RedisBroker.history() was called twice; a broker serves one hub');
    const { maxQueuedBytes, recordMaxInFlightBytes } = this.options;
    // An app that awaits its sends keeps up to recordMaxInFlightBytes recording: it must never be refused.
    if (maxQueuedBytes <= recordMaxInFlightBytes) {
      throw new TypeError(
        `wshub RedisBroker: with recovery, option "maxQueuedBytes" (${maxQueuedBytes}) must be more than "recordMaxInFlightBytes" (${recordMaxInFlightBytes}), or sends that are awaited would be refused`,
      );
    }
    const parts = {
      broker: this,
      node: this.node,
      commands: this.commands,
      subscriber: this.subscriber,
      publisher: this.publisher,
      reporter: this.reporter,
      options: this.options,
    };
    this.recorded = this.routes
      ? new ClusterHistory({ ...parts, routes: this.routes, orderWindowMs: this.options.orderWindowMs }, limits)
      : new RedisHistory(parts, limits);
    if (this.commands.writable) this.recorded.connectionUp();
    return this.recorded;
  }

  /** Recorded messages (this node's own too) go to the history; envelopes to `ClusterBroker`. */
  protected override onMessage(channel: string, data: string | Buffer): void {
    if (this.recorded?.receive(data, channel)) {
      this.recordedReceived++;
      return;
    }
    super.onMessage(channel, data);
  }

  // ----------------------------------------------------------- transport

  /**
   * Flow control (see `Broker.admit`): `undefined` while less than
   * `highWaterMarkBytes` of publishes wait for Redis's answer; above it, a
   * promise that settles once Redis answered half of them; at
   * `maxQueuedBytes` (publishes, and with recovery the recordings queued
   * and in flight), a RangeError.
   */
  admit(): Promise<void> | undefined {
    return this.backlog.admit(this.recorded?.pendingBytes);
  }

  protected publish(channel: string, data: string): void {
    this.publisher.publish(channel, data);
  }

  protected subscribe(channel: string): void {
    if (!this.closed) this.subscriber?.add(channel);
  }

  protected unsubscribe(channel: string): void {
    this.subscriber?.remove(channel);
  }

  /** The user ids whose channels are among `channels`. */
  private usersOf(channels: string[]): string[] {
    const userPrefix = this.userChannel('');
    return channels.filter((c) => c.startsWith(userPrefix)).map((c) => c.slice(userPrefix.length));
  }

  /** Subscribes the channel of every user in `users` and drops the channels of users not in it. */
  private reconcileChannels(users: ReadonlyMap<string, unknown>): void {
    for (const userId of users.keys()) this.subscribe(this.userChannel(userId));
    const userPrefix = this.userChannel('');
    for (const channel of [...(this.subscriber?.wanted() ?? [])]) {
      if (channel.startsWith(userPrefix) && !users.has(channel.slice(userPrefix.length))) this.unsubscribe(channel);
    }
  }

  // -------------------------------------------------------------- presence

  protected presenceJoin(userId: string, user: unknown): void {
    this.presence?.join(userId, user);
  }

  protected presenceLeave(userId: string): void {
    this.presence?.leave(userId);
    this.recorded?.userLeft?.(userId);
  }

  /** Every online user of the cluster with its user object (parsed JSON); this node's users included. */
  async users(): Promise<Map<string, unknown>> {
    return this.attached().users();
  }

  override async onlineUsers(): Promise<string[]> {
    return this.attached().onlineUsers();
  }

  override async isOnline(userId: string): Promise<boolean> {
    return this.attached().isOnline(userId);
  }

  private attached(): PresenceReplicator {
    if (this.closed) throw new RedisUnavailableError('wshub: the RedisBroker is closed; cluster presence is unavailable');
    if (!this.presence) throw new Error('wshub: RedisBroker used before a hub attached it');
    return this.presence;
  }

  // ----------------------------------------------------------------- stats

  /** `hub.stats().broker`; see {@link RedisBrokerStats}. */
  override stats(): RedisBrokerStats {
    return {
      published: this.counters.published,
      publishPendingBytes: this.backlog.bytes,
      publishWaits: this.backlog.waits,
      publishRefused: this.backlog.refused,
      received: this.counters.received,
      ignored: this.counters.ignored,
      held: this.publisher.held,
      heldBytes: this.publisher.heldBytes,
      ...this.publisher.counters,
      subscriberRestarts: this.subscriber?.restarts ?? 0,
      reconnects: this.commands.reconnects,
      connected: this.commands.writable ? 1 : 0,
      subscribed: this.subscriber?.confirmedCount ?? 0,
      ...(this.recorded ? { ...this.recorded.counters, recordedReceived: this.recordedReceived } : {}),
    };
  }

  // ---------------------------------------------------------------- errors

  private report(error: Error): void {
    this.node?.reportError(error);
  }

  /** ioredis emits an error per failed reconnect attempt; one report per outage is enough. */
  private connectionFailed(which: 'command' | 'subscriber', error: Error): void {
    if (this.closed) return;
    this.reporter.once(`connection:${which}`, new Error(`wshub: the Redis ${which} connection failed: ${error.message}`));
  }

  // -------------------------------------------------------------- shutdown

  /**
   * Removes this node's presence, sends what is still held if Redis is up
   * (drops and counts it otherwise), and closes the connections the broker
   * created. A `client` you passed in stays open. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.probeTimer);
    this.publisher.close();
    this.backlog.release();
    this.routes?.close();
    this.recorded?.close();
    await this.presence?.retire();
    this.subscriber?.close();
    await this.commands.close();
  }
}
