import type { Redis } from 'ioredis';
import { keySlot } from './key-slot.js';

/** Channels per SUBSCRIBE when re-subscribing everything after a reconnect. */
const SUBSCRIBE_CHUNK = 1000;

/** What a subscriber connection tells its owner. */
export interface SubscriberEvents {
  /** A message on one of the subscribed channels. */
  message(channel: string, data: Buffer): void;
  /** Redis confirmed `channels` on this connection (each still wanted). */
  confirmed(channels: string[]): void;
  /** A command or connection failure, for a throttled report. */
  failed(kind: 'subscribe' | 'connection', error: Error): void;
  /** The connection is ready (again). */
  ready?(): void;
  /** The connection that carried the channels is gone (closed or replaced): what was published meanwhile did not reach it. */
  down?(): void;
}

/** ioredis's record of what Redis confirmed on a connection (`condition.subscriber`): a set per command. */
interface SubscriptionSet {
  channels(set: 'subscribe' | 'ssubscribe'): string[];
}

/**
 * One subscriber connection and the channels it should carry. It subscribes
 * the wanted channels whenever the connection becomes ready (ioredis's own
 * re-subscribe is off: the wanted set changes while the connection is down),
 * remembers what Redis confirmed, and can be replaced by a fresh connection
 * when it stopped receiving.
 *
 * With `sharded`, it uses SSUBSCRIBE / SUNSUBSCRIBE (Redis Cluster sharded
 * pub/sub): then every channel must belong to a slot of the node it is
 * connected to.
 */
export class SubscriberConnection {
  /** Channels this connection should carry. */
  readonly wanted = new Set<string>();
  /** Channels Redis confirmed on the current connection. */
  readonly confirmed = new Set<string>();
  /** Channels whose SUBSCRIBE was sent on the current connection and not answered yet. */
  private readonly inFlight = new Set<string>();
  /** Channels of a SUBSCRIBE that failed: sent again one to a command, so one refused channel fails no other. */
  private readonly refused = new Set<string>();
  /** When Redis last confirmed a SUBSCRIBE on the current connection. */
  progressAt = 0;
  /** Wanted channels not confirmed: since when they have waited on a ready connection. */
  private readonly waiting = new Map<string, number>();
  private redis: Redis;
  private closed = false;

  constructor(
    private readonly create: () => Redis,
    private readonly events: SubscriberEvents,
    private readonly sharded = false,
  ) {
    this.redis = this.start();
  }

  /** The current connection (it changes on `replace()`). */
  get connection(): Redis {
    return this.redis;
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  add(channels: string[]): void {
    if (this.closed) return;
    const fresh = channels.filter((channel) => !this.wanted.has(channel));
    for (const channel of fresh) this.wanted.add(channel);
    if (fresh.length > 0 && this.ready) this.subscribeNow(fresh);
  }

  remove(channel: string): void {
    this.wanted.delete(channel);
    this.confirmed.delete(channel);
    this.refused.delete(channel);
    this.waiting.delete(channel);
    if (this.closed || !this.ready) return; // a new connection subscribes only `wanted`
    const done = this.sharded ? this.redis.sunsubscribe(channel) : this.redis.unsubscribe(channel);
    done.catch((error: Error) => this.events.failed('subscribe', error));
  }

  /** Subscribes `channels` again on the current connection (wanted ones only), e.g. after a failed SUBSCRIBE. */
  resubscribe(channels: string[]): void {
    const wanted = channels.filter((channel) => this.wanted.has(channel));
    if (this.closed || !this.ready || wanted.length === 0) return;
    const alone = wanted.filter((channel) => this.refused.has(channel));
    for (const channel of alone) this.subscribeBatch([channel]);
    if (alone.length < wanted.length) this.subscribeNow(wanted.filter((channel) => !this.refused.has(channel)));
  }

  /**
   * Wanted channels Redis has not confirmed on a ready connection, with how
   * long they have waited (time while the connection is down does not count:
   * its channels were reported down then). The clock of a channel starts at
   * the first call that finds it unconfirmed.
   */
  unconfirmed(now: number): Array<[channel: string, waitedMs: number]> {
    if (!this.ready) {
      this.waiting.clear();
      return [];
    }
    for (const channel of this.waiting.keys()) if (!this.wanted.has(channel) || this.confirmed.has(channel)) this.waiting.delete(channel);
    const out: Array<[string, number]> = [];
    if (this.confirmed.size === this.wanted.size) return out;
    for (const channel of this.wanted) {
      if (this.confirmed.has(channel)) continue;
      const since = this.waiting.get(channel);
      if (since === undefined) this.waiting.set(channel, now);
      out.push([channel, since === undefined ? 0 : now - since]);
    }
    return out;
  }

  /** True while the SUBSCRIBE of `channel` is sent and not answered. */
  pending(channel: string): boolean {
    return this.inFlight.has(channel);
  }

  /**
   * Confirmed channels that Redis no longer counts on this connection: a
   * node that loses a slot (a failover demoted it, a resharding) ends the
   * sharded subscriptions of that slot with a SUNSUBSCRIBE nobody asked for,
   * which ioredis records in its subscription set and tells no one. They are
   * no longer confirmed; the caller reports them down and subscribes them
   * again.
   */
  dropped(): string[] {
    if (!this.ready || this.confirmed.size === 0) return [];
    const condition = (this.redis as unknown as { condition?: { subscriber?: SubscriptionSet | false } }).condition;
    const set = condition?.subscriber;
    if (set === undefined || (set !== false && typeof set.channels !== 'function')) return []; // not the ioredis this knows
    const live = new Set(set === false ? [] : set.channels(this.sharded ? 'ssubscribe' : 'subscribe'));
    const out: string[] = [];
    for (const channel of this.confirmed) {
      if (live.has(channel) || this.inFlight.has(channel)) continue;
      this.confirmed.delete(channel);
      out.push(channel);
    }
    return out;
  }

  /** Drops the connection and starts a new one, which subscribes every wanted channel. */
  replace(): void {
    if (this.closed) return;
    const old = this.redis;
    this.forget();
    this.events.down?.();
    this.redis = this.start();
    drop(old);
  }

  close(): void {
    this.closed = true;
    this.forget();
    drop(this.redis);
  }

  /** What the current connection confirmed, sent and waited for: a new connection starts afresh. */
  private forget(): void {
    this.confirmed.clear();
    this.inFlight.clear();
    this.refused.clear();
    this.waiting.clear();
  }

  private start(): Redis {
    const redis = this.create();
    redis.on('error', (error: Error) => {
      if (redis === this.redis && !this.closed) this.events.failed('connection', error);
    });
    redis.on('ready', () => {
      if (redis !== this.redis || this.closed) return;
      this.confirmed.clear();
      this.events.ready?.();
      const channels = [...this.wanted];
      for (let i = 0; i < channels.length; i += SUBSCRIBE_CHUNK) this.subscribeNow(channels.slice(i, i + SUBSCRIBE_CHUNK));
    });
    redis.on('close', () => {
      if (redis !== this.redis) return;
      this.forget();
      if (!this.closed) this.events.down?.();
    });
    redis.on(this.sharded ? 'smessageBuffer' : 'messageBuffer', (channel: Buffer, message: Buffer) => {
      if (redis === this.redis && !this.closed) this.events.message(channel.toString(), message);
    });
    return redis;
  }

  /**
   * Subscribes `channels` on the current connection and reports those that
   * Redis confirmed and that are still wanted. SSUBSCRIBE takes channels of
   * one slot only, so sharded channels go in one command per slot.
   */
  private subscribeNow(channels: string[]): void {
    if (!this.sharded) {
      this.subscribeBatch(channels);
      return;
    }
    const bySlot = new Map<number, string[]>();
    for (const channel of channels) {
      const slot = keySlot(channel);
      const batch = bySlot.get(slot);
      if (batch) batch.push(channel);
      else bySlot.set(slot, [channel]);
    }
    for (const batch of bySlot.values()) this.subscribeBatch(batch);
  }

  private subscribeBatch(channels: string[]): void {
    const redis = this.redis;
    for (const channel of channels) this.inFlight.add(channel);
    const done = this.sharded ? redis.ssubscribe(...channels) : redis.subscribe(...channels);
    done.then(
      () => {
        if (redis !== this.redis || this.closed) return;
        this.progressAt = Date.now();
        for (const channel of channels) {
          this.inFlight.delete(channel);
          this.refused.delete(channel);
        }
        const confirmed = channels.filter((channel) => this.wanted.has(channel)); // not unsubscribed meanwhile
        for (const channel of confirmed) this.confirmed.add(channel);
        if (confirmed.length > 0) this.events.confirmed(confirmed);
      },
      (error: Error) => {
        if (redis === this.redis && !this.closed) {
          for (const channel of channels) {
            this.inFlight.delete(channel);
            this.refused.add(channel);
          }
          this.events.failed('subscribe', new Error(`wshub: Redis ${this.sharded ? 'SSUBSCRIBE' : 'SUBSCRIBE'} failed: ${error.message}`));
        }
      },
    );
  }
}

function drop(redis: Redis): void {
  redis.removeAllListeners('messageBuffer');
  redis.removeAllListeners('smessageBuffer');
  redis.disconnect();
  // `disconnect()` ends the socket politely; a connection that stopped
  // answering may never finish that, so destroy it.
  (redis.stream as { destroy?: () => void } | undefined)?.destroy?.();
}
