import type { ThrottledReporter } from './throttled-reporter.js';
import { OutageBuffer } from './outage-buffer.js';
import type { PublishBacklog } from './publish-backlog.js';
import type { PublisherCounters } from './redis-broker-stats.js';

/** How often held publishes are retried on a cluster while one of its shards is away or settling. */
const LANE_RETRY_MS = 100;

/**
 * Lanes for Redis Cluster: a publish goes to the master of its channel's
 * slot, and waits while that master is unreachable or new (see `ShardRoutes`).
 */
export interface PublishLanes {
  /** The lane of a channel: publishes of one lane keep their order and wait together. */
  lane(channel: string): number;
  /** True when a publish in `lane` may be written now. */
  open(lane: number): boolean;
  /** Writes one publish in its lane (called only when the lane is open). */
  send(channel: string, data: string): Promise<unknown>;
  /** The whole cluster was unreachable: every lane waits for its master to settle. */
  reset(): void;
  /** True while `lane` waits only for the first connection to its master (no fault to report). */
  opening?(lane: number): boolean;
}

interface Outage {
  dropped: number;
  expired: number;
  overflowReported: boolean;
  /** The lost connection was reported (a cluster's shard may have started holding before). */
  downReported: boolean;
}

export interface OutagePublisherOptions {
  bufferMaxMessages: number;
  bufferMaxBytes: number;
  bufferMaxAgeMs: number;
  bufferFlushDelayMs: number;
  /** True when a command written now goes straight to Redis. */
  writable(): boolean;
  /** Hands one publish to Redis. */
  send(channel: string, data: string): Promise<unknown>;
  /** Reports through the hub's `'error'`. */
  report(error: Error): void;
  reporter: ThrottledReporter;
  /** Counts what was handed to Redis and not answered yet (flow control). */
  backlog: PublishBacklog;
  /** On Redis Cluster: per-slot lanes, so one shard that fails over holds only its own publishes. */
  lanes?: PublishLanes;
}

/**
 * Publishes through Redis, and holds what cannot go now. While the command
 * connection is down, publishes wait in a bounded {@link OutageBuffer}; once
 * it is back they are sent after `bufferFlushDelayMs` (so the other nodes,
 * which lost Redis too, have re-subscribed), oldest first, minus those older
 * than `bufferMaxAgeMs`. Only publishes that never reached a connection are
 * held, so nothing is sent twice. One report when the outage starts, one when
 * the buffer overflows, one with the losses when it ends.
 *
 * With `lanes` (Redis Cluster), a publish waits also while the master of
 * its slot is unreachable or settling, behind what its slot holds already,
 * and goes as soon as that master takes publishes; the other slots go on.
 */
export class OutagePublisher {
  readonly counters: PublisherCounters = { flushed: 0, bufferDropped: 0, bufferExpired: 0, publishFailed: 0 };
  private readonly buffer: OutageBuffer;
  private outage: Outage | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private laneTimer: ReturnType<typeof setInterval> | undefined;
  private closed = false;

  constructor(private readonly options: OutagePublisherOptions) {
    this.buffer = new OutageBuffer({
      maxMessages: options.bufferMaxMessages,
      maxBytes: options.bufferMaxBytes,
      maxAgeMs: options.bufferMaxAgeMs,
    });
  }

  get held(): number {
    return this.buffer.length;
  }

  /** Publishes of `lane` held now. */
  heldIn(lane: number): number {
    return this.buffer.heldIn(lane);
  }

  get heldBytes(): number {
    return this.buffer.bytes;
  }

  publish(channel: string, data: string): void {
    if (this.closed) return;
    const lanes = this.options.lanes;
    if (!lanes) {
      if (this.buffer.length === 0 && this.options.writable()) this.sendNow(channel, data);
      else this.hold(channel, data);
      return;
    }
    // Behind what its lane holds, so a channel's publishes keep their order.
    const lane = lanes.lane(channel);
    if (this.buffer.heldIn(lane) === 0 && this.options.writable() && lanes.open(lane)) this.sendNow(channel, data);
    else this.hold(channel, data, lane);
  }

  /** The command connection is ready (`reconnect`: again): send what was held, after the flush delay. */
  connectionUp(reconnect = true): void {
    if (this.closed) return;
    if (this.options.lanes) {
      // Each master settles on its own, bufferFlushDelayMs after its connection is ready again.
      if (reconnect) this.options.lanes.reset();
      this.flushLanes();
    } else if (this.buffer.length === 0) {
      this.endOutage();
    } else if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => this.flush(), this.options.bufferFlushDelayMs);
      this.flushTimer.unref();
    }
  }

  /** The command connection was lost after it had been ready. */
  connectionDown(status: string): void {
    if (this.closed) return;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.outage ??= { dropped: 0, expired: 0, overflowReported: false, downReported: false };
    if (this.outage.downReported) return;
    this.outage.downReported = true;
    const { bufferMaxMessages, bufferMaxBytes, bufferMaxAgeMs } = this.options;
    this.options.report(
      new Error(
        `wshub: lost the Redis connection (status "${status}"); cross-node publishes are held (at most ${bufferMaxMessages} messages, ${bufferMaxBytes} bytes, ${bufferMaxAgeMs} ms old) until it is back`,
      ),
    );
  }

  /** Drops held publishes that grew older than `bufferMaxAgeMs` (called on every heartbeat). */
  expire(): void {
    const expired = this.buffer.expire(Date.now());
    if (expired === 0) return;
    this.counters.bufferExpired += expired;
    if (this.outage) this.outage.expired += expired;
  }

  /** Sends what is still held if Redis is up, drops and counts it otherwise. */
  close(): void {
    this.closed = true;
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    clearInterval(this.laneTimer);
    this.laneTimer = undefined;
    if (this.buffer.length === 0) return;
    const lanes = this.options.lanes;
    const held = this.options.writable() ? this.buffer.take((lane) => !lanes || lanes.open(lane)) : [];
    for (const item of held) this.sendNow(item.channel, item.data);
    this.counters.flushed += held.length;
    if (this.buffer.length > 0) {
      const dropped = this.buffer.drain().length;
      this.counters.bufferDropped += dropped;
      this.options.report(
        new Error(`wshub: the RedisBroker closed while Redis was unreachable; ${dropped} held cross-node publishes were dropped`),
      );
    }
  }

  /**
   * Hands one publish to Redis. A publish that fails after this point may or
   * may not have been delivered, so it is counted and reported, never
   * retried: delivery across nodes is at most once.
   */
  private sendNow(channel: string, data: string): void {
    const { backlog, lanes } = this.options;
    const bytes = data.length;
    backlog.sent(bytes);
    const sent = lanes ? lanes.send(channel, data) : this.options.send(channel, data);
    sent.then(() => backlog.answered(bytes), (error: Error) => {
      backlog.answered(bytes);
      this.counters.publishFailed++;
      this.options.reporter.report('publish', new Error(`wshub: a Redis publish on "${channel}" failed: ${error.message}`));
    });
  }

  private hold(channel: string, data: string, lane = 0): void {
    this.outage ??= { dropped: 0, expired: 0, overflowReported: false, downReported: false };
    const dropped = this.buffer.push(channel, data, Date.now(), lane);
    if (this.options.lanes) {
      this.watchLanes();
      // A fault only when the lane itself cannot take publishes: not one held behind earlier
      // publishes of an open lane (they go at the next retry), nor one whose master's first
      // connection is still opening.
      const lanes = this.options.lanes;
      if (this.options.writable() && !lanes.open(lane) && !lanes.opening?.(lane)) {
        this.options.reporter.report(
          'shard',
          new Error(
            `wshub: the Redis Cluster master of slot ${lane} is unreachable or has just taken over; publishes to its channels are held (at most ${this.options.bufferMaxAgeMs} ms) until it serves them`,
          ),
        );
      }
    }
    if (dropped === 0) return;
    this.counters.bufferDropped += dropped;
    this.outage.dropped += dropped;
    if (!this.outage.overflowReported) {
      this.outage.overflowReported = true;
      this.options.report(
        new Error(
          `wshub: the Redis outage buffer is full (${this.options.bufferMaxMessages} messages or ${this.options.bufferMaxBytes} bytes); the oldest held cross-node publishes are dropped`,
        ),
      );
    }
  }

  private flush(): void {
    this.flushTimer = undefined;
    if (this.closed || !this.options.writable()) return;
    this.expire();
    const held = this.buffer.drain();
    for (const item of held) this.sendNow(item.channel, item.data);
    this.counters.flushed += held.length;
    this.endOutage();
  }

  /** Retries held publishes on a cluster until every lane has sent what it held. */
  private watchLanes(): void {
    if (this.laneTimer || this.closed) return;
    this.laneTimer = setInterval(() => this.flushLanes(), LANE_RETRY_MS);
    this.laneTimer.unref();
  }

  /** Sends what the open lanes hold, oldest first; the others keep theirs. */
  private flushLanes(): void {
    const lanes = this.options.lanes!;
    if (this.closed || !this.options.writable()) return;
    this.expire();
    const held = this.buffer.take((lane) => lanes.open(lane));
    for (const item of held) this.sendNow(item.channel, item.data);
    this.counters.flushed += held.length;
    if (this.buffer.length > 0) return;
    clearInterval(this.laneTimer);
    this.laneTimer = undefined;
    this.endOutage();
  }

  private endOutage(): void {
    const outage = this.outage;
    this.outage = undefined;
    if (!outage || outage.dropped + outage.expired === 0) return;
    this.options.report(
      new Error(
        `wshub: Redis is back; ${outage.dropped} cross-node publishes were dropped because the outage buffer was full and ${outage.expired} because they were older than ${this.options.bufferMaxAgeMs} ms`,
      ),
    );
  }
}
