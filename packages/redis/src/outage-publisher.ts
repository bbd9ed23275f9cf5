import type { ThrottledReporter } from './throttled-reporter.js';
import { OutageBuffer } from './outage-buffer.js';
import type { PublisherCounters } from './redis-broker-stats.js';

interface Outage {
  dropped: number;
  expired: number;
  overflowReported: boolean;
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
}

/**
 * Publishes through Redis, and holds what cannot go now. While the command
 * connection is down, publishes wait in a bounded {@link OutageBuffer}; once
 * it is back they are sent after `bufferFlushDelayMs` (so the other nodes,
 * which lost Redis too, have re-subscribed), oldest first, minus those older
 * than `bufferMaxAgeMs`. Only publishes that never reached a connection are
 * held, so nothing is sent twice. One report when the outage starts, one when
 * the buffer overflows, one with the losses when it ends.
 */
export class OutagePublisher {
  readonly counters: PublisherCounters = { flushed: 0, bufferDropped: 0, bufferExpired: 0, publishFailed: 0 };
  private readonly buffer: OutageBuffer;
  private outage: Outage | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
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

  get heldBytes(): number {
    return this.buffer.bytes;
  }

  publish(channel: string, data: string): void {
    if (this.closed) return;
    if (this.buffer.length === 0 && this.options.writable()) this.sendNow(channel, data);
    else this.hold(channel, data);
  }

  /** The command connection is ready: send what was held, after the flush delay. */
  connectionUp(): void {
    if (this.closed) return;
    if (this.buffer.length === 0) {
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
    if (this.outage) return;
    this.outage = { dropped: 0, expired: 0, overflowReported: false };
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
    if (this.buffer.length === 0) return;
    if (this.options.writable()) {
      const held = this.buffer.drain();
      for (const item of held) this.sendNow(item.channel, item.data);
      this.counters.flushed += held.length;
    } else {
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
    this.options.send(channel, data).catch((error: Error) => {
      this.counters.publishFailed++;
      this.options.reporter.report('publish', new Error(`wshub: a Redis publish on "${channel}" failed: ${error.message}`));
    });
  }

  private hold(channel: string, data: string): void {
    this.outage ??= { dropped: 0, expired: 0, overflowReported: false };
    const dropped = this.buffer.push(channel, data, Date.now());
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
