import { type BrokerNode, ClusterBroker } from '@wshub/core';
import { Redis, type RedisOptions } from 'ioredis';
import { type RedisBrokerOptions, type ResolvedRedisBrokerOptions, resolveRedisBrokerOptions } from './options.js';
import { OutageBuffer } from './outage-buffer.js';
import { PresenceStore } from './presence-store.js';
import { RedisUnavailableError } from './redis-unavailable-error.js';

/** Channels per SUBSCRIBE when re-subscribing everything after a reconnect. */
const SUBSCRIBE_CHUNK = 1000;
/** Least time between two reports of the same recurring failure. */
const REPORT_INTERVAL_MS = 5000;
/** Heartbeats that time out in a row before the broker's own command connection is reset. */
const STALLED_HEARTBEATS = 2;

interface Outage {
  dropped: number;
  expired: number;
  overflowReported: boolean;
}

interface Probe {
  readonly token: string;
  readonly sub: Redis;
  readonly sentAt: number;
  received: boolean;
  replied: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * A {@link ClusterBroker} over Redis pub/sub: several `WsHub` processes act
 * as one hub. `ClusterBroker` owns the envelope, the channel layout
 * (`<prefix>:all`, `<prefix>:user:<userId>`), self-echo and validation; this
 * class moves bytes through Redis, keeps cluster presence, and survives
 * Redis faults:
 *
 * - publishes made while Redis is unreachable are held in a bounded
 *   {@link OutageBuffer} and sent after reconnecting (never twice);
 * - on every reconnect the channels are re-subscribed and this node's
 *   presence is written again from the hub's own registry;
 * - a probe published to a node-private channel checks that the subscriber
 *   still receives; a subscriber that misses it is replaced;
 * - presence queries reject at once with {@link RedisUnavailableError} while
 *   Redis is unreachable, and after `commandTimeoutMs` when it does not answer.
 *
 * Two connections: commands (publish, presence) and a subscriber. With
 * `client`, the commands go on your client and the subscriber is
 * `client.duplicate()`; `close()` closes only the connections it created.
 */
export class RedisBroker extends ClusterBroker {
  readonly options: Readonly<ResolvedRedisBrokerOptions>;
  private readonly cmd: Redis;
  private readonly ownsCmd: boolean;
  private sub: Redis;
  private readonly createSubscriber: () => Redis;
  private presence: PresenceStore | undefined;
  private readonly buffer: OutageBuffer;

  /** Channels this node wants. */
  private readonly wanted = new Set<string>();
  /** Channels Redis confirmed on the current subscriber connection. */
  private readonly confirmed = new Set<string>();
  /** Users this node holds: userId → user JSON (mirrors the hub's registry). */
  private held = new Map<string, string>();
  private presenceStale = false;
  private outage: Outage | undefined;
  private cmdWasReady = false;

  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private probeTimer: ReturnType<typeof setInterval> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatBusy = false;
  private heartbeats = 0;
  private stalledHeartbeats = 0;
  private probe: Probe | undefined;
  private probeSeq = 0;
  private readonly lastReported = new Map<string, number>();
  private closing: Promise<void> | undefined;
  private readonly cmdListeners: Array<[string, (...args: any[]) => void]>;

  constructor(options: RedisBrokerOptions = {}) {
    const resolved = resolveRedisBrokerOptions(options);
    super(resolved.prefix);
    this.options = Object.freeze(resolved);
    Object.assign(this.counters, {
      flushed: 0,
      bufferDropped: 0,
      bufferExpired: 0,
      publishFailed: 0,
      subscriberRestarts: 0,
      reconnects: 0,
    });
    this.buffer = new OutageBuffer({
      maxMessages: resolved.bufferMaxMessages,
      maxBytes: resolved.bufferMaxBytes,
      maxAgeMs: resolved.bufferMaxAgeMs,
    });

    // These settings make every command fail fast instead of queueing (so no
    // call hangs and the broker decides what to hold), never re-send a
    // command that may already have reached Redis (so nothing arrives twice),
    // leave re-subscribing to this class (the wanted channels change during
    // an outage) and keep reconnecting for as long as the broker lives.
    const forced: RedisOptions = {
      enableOfflineQueue: false,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, resolved.reconnectMaxDelayMs),
    };
    if (options.client) {
      const client = options.client;
      this.cmd = client;
      this.ownsCmd = false;
      this.createSubscriber = () => client.duplicate({ ...forced, lazyConnect: false, connectionName: 'wshub-sub' });
      if (client.status === 'wait') client.connect().catch(() => {});
    } else {
      const base: RedisOptions = { ...options.redisOptions, ...forced, lazyConnect: false };
      const make = (name: string) =>
        options.url !== undefined
          ? new Redis(options.url, { connectionName: name, ...base })
          : new Redis({ host: '127.0.0.1', port: 6379, connectionName: name, ...base });
      this.cmd = make('wshub-pub');
      this.ownsCmd = true;
      this.createSubscriber = () => make('wshub-sub');
      this.cmd.on('error', (error: Error) => this.connectionError('command', error));
    }
    this.cmdListeners = [
      ['ready', () => this.onCommandReady()],
      ['close', () => this.onCommandDown()],
      ['end', () => this.onCommandDown()],
    ];
    for (const [name, listener] of this.cmdListeners) this.cmd.on(name, listener);
    this.sub = this.startSubscriber();
  }

  // ------------------------------------------------------------ lifecycle

  override attach(node: BrokerNode): void {
    super.attach(node); // subscribes the broadcast channel
    this.presence = new PresenceStore(this.cmd, this.prefix, node.nodeId, this.options.nodeTtlMs);
    this.subscribe(this.probeChannel);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.options.heartbeatMs);
    this.heartbeatTimer.unref();
    this.probeTimer = setInterval(() => this.sendProbe(), this.options.probeIntervalMs);
    this.probeTimer.unref();
    if (this.commandWritable()) this.onCommandReady();
  }

  /** The node-private channel of the subscriber liveness probe. */
  get probeChannel(): string {
    return `${this.prefix}:probe:${this.node?.nodeId ?? ''}`;
  }

  private get closed(): boolean {
    return this.closing !== undefined;
  }

  /** True when a command written now goes straight to Redis (the same test ioredis makes). */
  private commandWritable(): boolean {
    const stream = this.cmd.stream as { writable?: boolean } | undefined;
    return this.cmd.status === 'ready' && stream?.writable === true;
  }

  private onCommandReady(): void {
    if (this.closed || !this.node || !this.commandWritable()) return;
    if (this.cmdWasReady) this.counters.reconnects!++;
    this.cmdWasReady = true;
    this.lastReported.delete('connection:command');
    this.stalledHeartbeats = 0;
    void this.reannounce().catch((error) => this.reportThrottled('presence', error));
    if (this.buffer.length === 0) {
      this.endOutage();
    } else if (!this.flushTimer) {
      // Wait before sending what was held, so the other nodes, which lost
      // Redis too, have re-subscribed and do not miss it.
      this.flushTimer = setTimeout(() => this.flush(), this.options.bufferFlushDelayMs);
      this.flushTimer.unref();
    }
  }

  private onCommandDown(): void {
    if (this.closed) return;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.cmdWasReady && !this.outage) {
      this.outage = { dropped: 0, expired: 0, overflowReported: false };
      const { bufferMaxMessages, bufferMaxBytes, bufferMaxAgeMs } = this.options;
      this.report(
        new Error(
          `wshub: lost the Redis connection (status "${this.cmd.status}"); cross-node publishes are held (at most ${bufferMaxMessages} messages, ${bufferMaxBytes} bytes, ${bufferMaxAgeMs} ms old) until it is back`,
        ),
      );
    }
  }

  // ------------------------------------------------------------ publishing

  protected publish(channel: string, data: string): void {
    if (this.closed) return;
    if (this.buffer.length === 0 && this.commandWritable()) this.publishNow(channel, data);
    else this.hold(channel, data);
  }

  /**
   * Hands one publish to Redis. A publish that fails after this point may or
   * may not have been delivered, so it is counted and reported, never
   * retried: delivery across nodes is at most once.
   */
  private publishNow(channel: string, data: string): void {
    this.cmd.publish(channel, data).catch((error: Error) => {
      this.counters.publishFailed!++;
      this.reportThrottled('publish', new Error(`wshub: a Redis publish on "${channel}" failed: ${error.message}`));
    });
  }

  private hold(channel: string, data: string): void {
    this.outage ??= { dropped: 0, expired: 0, overflowReported: false };
    const dropped = this.buffer.push(channel, data, Date.now());
    if (dropped === 0) return;
    this.counters.bufferDropped! += dropped;
    this.outage.dropped += dropped;
    if (!this.outage.overflowReported) {
      this.outage.overflowReported = true;
      this.report(
        new Error(
          `wshub: the Redis outage buffer is full (${this.options.bufferMaxMessages} messages or ${this.options.bufferMaxBytes} bytes); the oldest held cross-node publishes are dropped`,
        ),
      );
    }
  }

  /** Sends what was held during the outage, oldest first, minus what grew too old. */
  private flush(): void {
    this.flushTimer = undefined;
    if (this.closed || !this.commandWritable()) return;
    this.expireHeld();
    const held = this.buffer.drain();
    for (const item of held) this.publishNow(item.channel, item.data);
    this.counters.flushed! += held.length;
    this.endOutage();
  }

  private expireHeld(): void {
    const expired = this.buffer.expire(Date.now());
    if (expired === 0) return;
    this.counters.bufferExpired! += expired;
    if (this.outage) this.outage.expired += expired;
  }

  private endOutage(): void {
    const outage = this.outage;
    this.outage = undefined;
    if (!outage || outage.dropped + outage.expired === 0) return;
    this.report(
      new Error(
        `wshub: Redis is back; ${outage.dropped} cross-node publishes were dropped because the outage buffer was full and ${outage.expired} because they were older than ${this.options.bufferMaxAgeMs} ms`,
      ),
    );
  }

  // ----------------------------------------------------------- subscribing

  private startSubscriber(): Redis {
    const sub = this.createSubscriber();
    sub.on('error', (error: Error) => this.connectionError('subscriber', error));
    sub.on('ready', () => {
      if (sub !== this.sub || this.closed) return;
      this.lastReported.delete('connection:subscriber');
      this.confirmed.clear();
      const channels = [...this.wanted];
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) this.subscribeNow(channels.slice(i, i + SUBSCRIBE_CHUNK));
    });
    sub.on('close', () => {
      if (sub === this.sub) this.confirmed.clear();
    });
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (sub !== this.sub) return;
      const name = channel.toString();
      if (name === this.probeChannel) this.onProbe(message.toString());
      else this.onMessage(name, message);
    });
    return sub;
  }

  protected subscribe(channel: string): void {
    if (this.closed) return;
    this.wanted.add(channel);
    if (this.sub.status === 'ready') this.subscribeNow([channel]);
  }

  protected unsubscribe(channel: string): void {
    this.wanted.delete(channel);
    this.confirmed.delete(channel);
    if (this.closed || this.sub.status !== 'ready') return; // a new connection subscribes only `wanted`
    this.sub.unsubscribe(channel).catch((error: Error) => this.reportThrottled('subscribe', error));
  }

  /**
   * Subscribes `channels` on the current subscriber. Once Redis confirms, a
   * user whose channel it is gets written to presence: a user is announced
   * only when this node can already receive what is sent to them.
   */
  private subscribeNow(channels: string[]): void {
    const sub = this.sub;
    sub.subscribe(...channels).then(
      () => {
        if (sub !== this.sub || this.closed) return;
        const entries: Array<[string, string]> = [];
        const userPrefix = this.userChannel('');
        for (const channel of channels) {
          if (!this.wanted.has(channel)) continue; // unsubscribed meanwhile
          this.confirmed.add(channel);
          if (!channel.startsWith(userPrefix)) continue;
          const userId = channel.slice(userPrefix.length);
          const json = this.held.get(userId);
          if (json !== undefined) entries.push([userId, json]);
        }
        this.writePresence(entries);
      },
      (error: Error) => this.reportThrottled('subscribe', new Error(`wshub: Redis SUBSCRIBE failed: ${error.message}`)),
    );
  }

  /** Drops the subscriber connection and starts a new one, which subscribes every wanted channel. */
  private replaceSubscriber(): void {
    const old = this.sub;
    this.confirmed.clear();
    this.sub = this.startSubscriber();
    old.removeAllListeners('messageBuffer');
    old.disconnect();
    // `disconnect()` ends the socket politely; a connection that stopped
    // answering may never finish that, so destroy it.
    (old.stream as { destroy?: () => void } | undefined)?.destroy?.();
  }

  // ------------------------------------------------------- liveness probe

  /**
   * Publishes a token to this node's probe channel. If Redis says nobody
   * subscribes it, or the token does not come back within
   * `probeTimeoutMs` after Redis accepted it, the subscriber is replaced.
   */
  private sendProbe(): void {
    const pending = this.probe;
    if (pending) {
      // A probe whose publish Redis never answered says nothing about the subscriber.
      if (pending.replied || Date.now() - pending.sentAt < this.options.commandTimeoutMs) return;
      this.probe = undefined;
    }
    if (this.closed || !this.commandWritable() || this.sub.status !== 'ready') return;
    if (!this.confirmed.has(this.probeChannel)) return;
    const probe: Probe = {
      token: `${++this.probeSeq}`,
      sub: this.sub,
      sentAt: Date.now(),
      received: false,
      replied: false,
      timer: undefined,
    };
    this.probe = probe;
    this.cmd.publish(this.probeChannel, probe.token).then(
      (receivers) => {
        if (this.probe !== probe) return;
        probe.replied = true;
        if (probe.received) {
          this.probe = undefined;
        } else if (receivers === 0) {
          this.probeFailed(probe, 'Redis reports no subscriber on the probe channel');
        } else {
          probe.timer = setTimeout(
            () => this.probeFailed(probe, `the probe did not arrive within ${this.options.probeTimeoutMs} ms`),
            this.options.probeTimeoutMs,
          );
          probe.timer.unref();
        }
      },
      () => {
        if (this.probe === probe) this.probe = undefined;
      },
    );
  }

  private onProbe(token: string): void {
    const probe = this.probe;
    if (!probe || probe.token !== token) return;
    probe.received = true;
    if (!probe.replied) return;
    clearTimeout(probe.timer);
    this.probe = undefined;
  }

  private probeFailed(probe: Probe, why: string): void {
    if (this.probe !== probe) return;
    this.probe = undefined;
    if (this.closed || probe.sub !== this.sub) return;
    this.counters.subscriberRestarts!++;
    this.report(
      new Error(
        `wshub: the Redis subscriber failed its liveness check (${why}); replacing the connection and re-subscribing ${this.wanted.size} channels`,
      ),
    );
    this.replaceSubscriber();
  }

  // -------------------------------------------------------------- presence

  protected presenceJoin(userId: string, user: unknown): void {
    if (this.closed) return;
    const json = JSON.stringify(user);
    this.held.set(userId, json);
    // Not yet subscribed: written when Redis confirms the subscription.
    if (this.confirmed.has(this.userChannel(userId))) this.writePresence([[userId, json]]);
  }

  protected presenceLeave(userId: string): void {
    if (this.closed) return;
    this.held.delete(userId);
    if (!this.commandWritable()) {
      this.presenceStale = true;
      return;
    }
    this.presence?.remove(userId).catch((error) => this.presenceWriteFailed(error));
  }

  private writePresence(entries: Array<[string, string]>): void {
    if (entries.length === 0 || !this.presence) return;
    if (!this.commandWritable()) {
      this.presenceStale = true;
      return;
    }
    this.presence.add(entries).catch((error) => this.presenceWriteFailed(error));
  }

  private presenceWriteFailed(error: unknown): void {
    this.presenceStale = true; // the next heartbeat writes everything again
    this.reportThrottled('presence', error);
  }

  /**
   * Writes this node's presence again from the hub's registry (the users it
   * holds now, including those who connected during an outage), and brings
   * the wanted channels in line with it.
   */
  private async reannounce(): Promise<void> {
    const node = this.node;
    const presence = this.presence;
    if (!node || !presence) return;
    const users = node.localUsers();
    const held = new Map<string, string>();
    for (const [userId, user] of users) {
      held.set(userId, JSON.stringify(user));
      if (!this.wanted.has(this.userChannel(userId))) this.subscribe(this.userChannel(userId));
    }
    const userPrefix = this.userChannel('');
    for (const channel of [...this.wanted]) {
      if (channel.startsWith(userPrefix) && !users.has(channel.slice(userPrefix.length))) this.unsubscribe(channel);
    }
    this.held = held;
    const entries = [...held].filter(([userId]) => this.confirmed.has(this.userChannel(userId)));
    this.presenceStale = false;
    try {
      await this.timed(presence.replaceAll(entries), 'writing presence');
    } catch (error) {
      this.presenceStale = true;
      throw error;
    }
  }

  /** Renews this node's records, rewrites them if Redis lost them, and sweeps dead nodes now and then. */
  private async heartbeat(): Promise<void> {
    if (this.closed || this.heartbeatBusy || !this.presence) return;
    this.expireHeld();
    if (!this.commandWritable()) return;
    this.heartbeatBusy = true;
    try {
      if (this.presenceStale) {
        await this.reannounce();
      } else {
        const hasRecords = await this.timed(this.presence.heartbeat(), 'the heartbeat');
        if (!hasRecords && this.held.size > 0) await this.reannounce();
      }
      const sweepEvery = Math.max(1, Math.ceil(this.options.nodeTtlMs / this.options.heartbeatMs));
      if (++this.heartbeats % sweepEvery === 0) await this.timed(this.presence.sweep(), 'the presence sweep');
      this.stalledHeartbeats = 0;
    } catch (error) {
      this.reportThrottled('heartbeat', error);
      if (error instanceof RedisUnavailableError && ++this.stalledHeartbeats >= STALLED_HEARTBEATS && this.ownsCmd) {
        // A connection that accepts commands but never answers (a silent
        // network failure) would otherwise wait for TCP to give up.
        this.stalledHeartbeats = 0;
        (this.cmd.stream as { destroy?: () => void } | undefined)?.destroy?.();
      }
    } finally {
      this.heartbeatBusy = false;
    }
  }

  /** Every online user of the cluster with its user object (parsed JSON); this node's users included. */
  async users(): Promise<Map<string, unknown>> {
    const presence = this.queryable();
    const entries = await this.timed(presence.entries(), 'a presence query');
    const out = new Map<string, unknown>();
    for (const [userId, json] of entries) {
      try {
        out.set(userId, JSON.parse(json));
      } catch {
        this.counters.ignored++;
      }
    }
    // This node's users are known without Redis, even before their
    // subscription is confirmed, and their objects are the freshest.
    for (const [userId, user] of this.node!.localUsers()) out.set(userId, user);
    return out;
  }

  override async onlineUsers(): Promise<string[]> {
    const presence = this.queryable();
    const ids = new Set(await this.timed(presence.userIds(), 'a presence query'));
    for (const userId of this.held.keys()) ids.add(userId);
    return [...ids];
  }

  override async isOnline(userId: string): Promise<boolean> {
    const presence = this.queryable();
    if (this.held.has(userId)) return true;
    return this.timed(presence.has(userId), 'a presence query');
  }

  /** The presence store, or a {@link RedisUnavailableError} when a query cannot be answered now. */
  private queryable(): PresenceStore {
    if (this.closed) throw new RedisUnavailableError('wshub: the RedisBroker is closed; cluster presence is unavailable');
    if (!this.presence) throw new Error('wshub: RedisBroker used before a hub attached it');
    if (!this.commandWritable()) {
      throw new RedisUnavailableError(
        `wshub: Redis is unreachable (connection status "${this.cmd.status}"); cluster presence is unavailable until it reconnects`,
      );
    }
    return this.presence;
  }

  /** Rejects with a {@link RedisUnavailableError} when Redis does not answer within `commandTimeoutMs`. */
  private timed<T>(promise: Promise<T>, what: string): Promise<T> {
    const ms = this.options.commandTimeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RedisUnavailableError(`wshub: Redis did not answer ${what} within ${ms} ms`)),
        ms,
      );
    });
    promise.catch(() => {}); // a late rejection after the timeout is not unhandled
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  // ----------------------------------------------------------------- stats

  /**
   * Counters in `hub.stats().broker`: `published`, `received`, `ignored`
   * (see `ClusterBroker`); `held` / `heldBytes` (publishes waiting for Redis
   * now), `flushed` (held publishes sent after a reconnect), `bufferDropped`
   * (over the buffer's bounds), `bufferExpired` (older than
   * `bufferMaxAgeMs`), `publishFailed`, `subscriberRestarts` (failed
   * liveness probes), `reconnects`, `connected` (1 or 0) and `subscribed`
   * (channels confirmed on the subscriber).
   */
  override stats(): Record<string, number> {
    return {
      ...super.stats(),
      held: this.buffer.length,
      heldBytes: this.buffer.bytes,
      connected: this.commandWritable() ? 1 : 0,
      subscribed: this.confirmed.size,
    };
  }

  // ---------------------------------------------------------------- errors

  private report(error: Error): void {
    this.node?.reportError(error);
  }

  /** Reports a recurring failure at most once per {@link REPORT_INTERVAL_MS} per kind. */
  private reportThrottled(kind: string, error: unknown): void {
    const now = Date.now();
    const last = this.lastReported.get(kind);
    if (last !== undefined && now - last < REPORT_INTERVAL_MS) return;
    this.lastReported.set(kind, now);
    this.report(error instanceof Error ? error : new Error(String(error)));
  }

  /** ioredis emits an error per failed reconnect attempt; one report per outage is enough. */
  private connectionError(which: 'command' | 'subscriber', error: Error): void {
    if (this.closed) return;
    const key = `connection:${which}`;
    if (this.lastReported.has(key)) return;
    this.lastReported.set(key, Date.now());
    this.report(new Error(`wshub: the Redis ${which} connection failed: ${error.message}`));
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
    clearTimeout(this.flushTimer);
    clearTimeout(this.probe?.timer);
    this.flushTimer = undefined;
    if (this.buffer.length > 0) {
      if (this.commandWritable()) {
        const held = this.buffer.drain();
        for (const item of held) this.publishNow(item.channel, item.data);
        this.counters.flushed! += held.length;
      } else {
        const dropped = this.buffer.drain().length;
        this.counters.bufferDropped! += dropped;
        this.report(new Error(`wshub: the RedisBroker closed while Redis was unreachable; ${dropped} held cross-node publishes were dropped`));
      }
    }
    if (this.presence && this.commandWritable()) {
      await this.timed(this.presence.retire(), 'removing presence').catch(() => {});
    }
    this.sub.removeAllListeners('messageBuffer');
    this.sub.disconnect();
    for (const [name, listener] of this.cmdListeners) this.cmd.off(name, listener);
    if (this.ownsCmd) {
      if (this.commandWritable()) await this.timed(this.cmd.quit(), 'QUIT').catch(() => {});
      this.cmd.disconnect();
    }
  }
}
