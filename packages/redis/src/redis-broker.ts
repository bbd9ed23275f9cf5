import { type BrokerNode, ClusterBroker } from '@wshub/core';
import { Redis, type RedisOptions } from 'ioredis';
import { CommandConnection } from './command-connection.js';
import { LivenessProbe } from './liveness-probe.js';
import { type RedisBrokerOptions, type ResolvedRedisBrokerOptions, resolveRedisBrokerOptions } from './options.js';
import { OutagePublisher } from './outage-publisher.js';
import { PresenceReplicator } from './presence-replicator.js';
import { PresenceStore } from './presence-store.js';
import type { RedisBrokerStats } from './redis-broker-stats.js';
import { RedisUnavailableError } from './redis-unavailable-error.js';
import { SubscriberConnection } from './subscriber-connection.js';
import { ThrottledReporter } from './throttled-reporter.js';

/** Least time between two reports of the same recurring failure. */
const REPORT_INTERVAL_MS = 5000;

/**
 * A {@link ClusterBroker} over Redis pub/sub: several `WsHub` processes act
 * as one hub. `ClusterBroker` owns the envelope, the channel layout
 * (`<prefix>:all`, `<prefix>:user:<userId>`), self-echo and validation; this
 * class wires the parts that move bytes through Redis and survive its faults:
 *
 * - {@link CommandConnection}: publishes and presence, ready/lost transitions,
 *   timeouts;
 * - {@link SubscriberConnection}: the subscribed channels, re-subscribed on
 *   every reconnect, and a {@link LivenessProbe} that replaces a subscriber
 *   which silently stopped receiving;
 * - {@link OutagePublisher}: publishes made while Redis is unreachable are
 *   held in a bounded buffer and sent after reconnecting (never twice);
 * - {@link PresenceReplicator}: this node's users in cluster presence, written
 *   again from the hub's registry after every reconnect; queries reject at
 *   once with {@link RedisUnavailableError} while Redis is unreachable.
 *
 * Two connections: commands and a subscriber. With `client`, the commands go
 * on your client and the subscriber is `client.duplicate()`; `close()` closes
 * only the connections it created.
 */
export class RedisBroker extends ClusterBroker {
  readonly options: Readonly<ResolvedRedisBrokerOptions>;
  private readonly commands: CommandConnection;
  private readonly subscriber: SubscriberConnection;
  private readonly publisher: OutagePublisher;
  private readonly reporter: ThrottledReporter;
  private presence: PresenceReplicator | undefined;
  private probe: LivenessProbe | undefined;
  private subscriberRestarts = 0;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private closing: Promise<void> | undefined;

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
    const forced: RedisOptions = {
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, resolved.reconnectMaxDelayMs),
    };
    let cmd: Redis;
    let createSubscriber: () => Redis;
    if (options.client) {
      const client = options.client;
      cmd = client;
      createSubscriber = () => client.duplicate({ ...forced, lazyConnect: false, connectionName: 'wshub-sub' });
      if (client.status === 'wait') client.connect().catch(() => {});
    } else {
      const base: RedisOptions = { ...options.redisOptions, ...forced, lazyConnect: false };
      const make = (name: string) =>
        options.url !== undefined
          ? new Redis(options.url, { connectionName: name, ...base })
          : new Redis({ host: '127.0.0.1', port: 6379, connectionName: name, ...base });
      cmd = make('wshub-pub');
      createSubscriber = () => make('wshub-sub');
      cmd.on('error', (error: Error) => this.connectionFailed('command', error));
    }
    this.commands = new CommandConnection(cmd, !options.client, resolved.commandTimeoutMs, {
      up: () => this.onCommandsUp(),
      down: (status) => {
        if (!this.closed) this.publisher.connectionDown(status);
      },
    });
    this.publisher = new OutagePublisher({
      ...resolved,
      writable: () => this.commands.writable,
      send: (channel, data) => cmd.publish(channel, data),
      report: (error) => this.report(error),
      reporter: this.reporter,
    });
    this.subscriber = new SubscriberConnection(createSubscriber, {
      message: (channel, data) => {
        if (channel === this.probe?.channel) this.probe.receive(data.toString());
        else this.onMessage(channel, data);
      },
      confirmed: (channels) => this.presence?.reachableNow(this.usersOf(channels)),
      failed: (kind, error) => {
        if (kind === 'connection') this.connectionFailed('subscriber', error);
        else this.reporter.report('subscribe', error);
      },
      ready: () => this.reporter.reset('connection:subscriber'),
    });
  }

  // ------------------------------------------------------------ lifecycle

  override attach(node: BrokerNode): void {
    super.attach(node); // subscribes the broadcast channel
    this.presence = new PresenceReplicator({
      node,
      store: new PresenceStore(this.commands.redis, this.prefix, node.nodeId, this.options.nodeTtlMs),
      commands: this.commands,
      reporter: this.reporter,
      reachable: (userId) => this.subscriber.confirmed.has(this.userChannel(userId)),
      reconcile: (users) => this.reconcileChannels(users),
      ignored: () => this.counters.ignored++,
    });
    this.probe = new LivenessProbe({
      channel: this.probeChannel,
      subscriber: this.subscriber,
      publish: (channel, token) => this.commands.redis.publish(channel, token),
      commandWritable: () => this.commands.writable,
      probeTimeoutMs: this.options.probeTimeoutMs,
      commandTimeoutMs: this.options.commandTimeoutMs,
      failed: (why) => this.subscriberFailed(why),
    });
    this.subscribe(this.probeChannel);
    this.heartbeatTimer = setInterval(() => this.tick(), this.options.heartbeatMs);
    this.heartbeatTimer.unref();
    this.probeTimer = setInterval(() => this.probe?.check(), this.options.probeIntervalMs);
    this.probeTimer.unref();
    this.commands.start();
  }

  /** The node-private channel of the subscriber liveness probe. */
  get probeChannel(): string {
    return `${this.prefix}:probe:${this.node?.nodeId ?? ''}`;
  }

  private get closed(): boolean {
    return this.closing !== undefined;
  }

  private onCommandsUp(): void {
    if (this.closed || !this.node) return;
    this.reporter.reset('connection:command');
    this.presence?.connectionUp();
    this.publisher.connectionUp();
  }

  private tick(): void {
    if (this.closed) return;
    this.publisher.expire();
    void this.presence?.heartbeat();
  }

  // ----------------------------------------------------------- transport

  protected publish(channel: string, data: string): void {
    this.publisher.publish(channel, data);
  }

  protected subscribe(channel: string): void {
    if (!this.closed) this.subscriber.add([channel]);
  }

  protected unsubscribe(channel: string): void {
    this.subscriber.remove(channel);
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
    for (const channel of [...this.subscriber.wanted]) {
      if (channel.startsWith(userPrefix) && !users.has(channel.slice(userPrefix.length))) this.unsubscribe(channel);
    }
  }

  private subscriberFailed(why: string): void {
    if (this.closed) return;
    this.subscriberRestarts++;
    this.report(
      new Error(
        `wshub: the Redis subscriber failed its liveness check (${why}); replacing the connection and re-subscribing ${this.subscriber.wanted.size} channels`,
      ),
    );
    this.subscriber.replace();
  }

  // -------------------------------------------------------------- presence

  protected presenceJoin(userId: string, user: unknown): void {
    this.presence?.join(userId, user);
  }

  protected presenceLeave(userId: string): void {
    this.presence?.leave(userId);
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
      received: this.counters.received,
      ignored: this.counters.ignored,
      held: this.publisher.held,
      heldBytes: this.publisher.heldBytes,
      ...this.publisher.counters,
      subscriberRestarts: this.subscriberRestarts,
      reconnects: this.commands.reconnects,
      connected: this.commands.writable ? 1 : 0,
      subscribed: this.subscriber.confirmed.size,
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
    this.probe?.stop();
    this.publisher.close();
    await this.presence?.retire();
    this.subscriber.close();
    await this.commands.close();
  }
}
