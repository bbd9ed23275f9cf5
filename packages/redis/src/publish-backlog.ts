import { QueueFullErrors } from '@wshub/core';

export interface PublishBacklogOptions {
  /** Over this many bytes of publishes sent to Redis and not answered yet, sends wait. */
  highWaterMarkBytes: number;
  /** At this many, a send is refused. */
  maxQueuedBytes: number;
  /** Longest wait: Redis that stopped answering (a stalled cluster master) lets its waiting sends go after it. */
  timeoutMs: number;
}

/**
 * Flow control for publishes (`Broker.admit`): counts the bytes of
 * publishes sent to Redis and not answered yet.
 *
 * Why: ioredis keeps every command it wrote until Redis answers it, and an
 * app's `await` loop of sends never yields to I/O (each send resolves in a
 * microtask), so no answer is read until the loop ends: 150k sends of 1 KiB
 * ran a 128 MB process out of memory. Now a send made while more than
 * `highWaterMarkBytes` are unanswered resolves once Redis has answered half
 * of them (or failed them: a lost connection fails what it had, and what
 * follows goes to the bounded outage buffer), or after `timeoutMs`. At
 * `maxQueuedBytes` (only an app that does not await its sends gets there) a
 * send is refused with a `RangeError` before anything is delivered.
 */
export class PublishBacklog {
  /** Bytes (UTF-16 units of the published text) sent to Redis and not answered yet. */
  bytes = 0;
  /** Times a send waited for Redis's answers. */
  waits = 0;
  /** Sends refused at `maxQueuedBytes`. */
  refused = 0;
  private waiters: Array<() => void> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly full: QueueFullErrors;

  constructor(private readonly options: PublishBacklogOptions) {
    this.full = new QueueFullErrors(
      `wshub: RedisBroker: the messages waiting for Redis's answer are at maxQueuedBytes (${options.maxQueuedBytes}); this message was not sent (await sendMessage and push: they wait while more than highWaterMarkBytes wait)`,
    );
  }

  /**
   * `undefined` when a publish may go now; a promise to await after
   * publishing while many are unanswered; throws when too many are.
   * `recording`: bytes of recorded messages queued and in flight (with
   * recovery), which count against `maxQueuedBytes` too; the history makes
   * its own callers wait for room.
   */
  admit(recording = 0): Promise<void> | undefined {
    const { highWaterMarkBytes, maxQueuedBytes } = this.options;
    const bytes = this.bytes;
    if (bytes + recording < highWaterMarkBytes) {
      this.full.taken();
      return undefined;
    }
    if (bytes + recording >= maxQueuedBytes) {
      this.refused++;
      throw this.full.next();
    }
    this.full.taken();
    if (bytes < highWaterMarkBytes) return undefined;
    this.waits++;
    this.timer ??= setTimeout(() => this.release(), this.options.timeoutMs);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** A publish of `bytes` was handed to Redis. */
  sent(bytes: number): void {
    this.bytes += bytes;
  }

  /** Redis answered (or failed) a publish of `bytes`. */
  answered(bytes: number): void {
    this.bytes -= bytes;
    // Half way down, so the waiting sends go together rather than one per answer.
    if (this.waiters.length > 0 && this.bytes <= this.options.highWaterMarkBytes / 2) this.release();
  }

  /** Lets every waiting send go (the broker closes, or the wait timed out). */
  release(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
