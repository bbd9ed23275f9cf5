import type { HubLimits } from '../config/options.js';
import { Deadline, type DeadlineQueue } from '../util/deadline-queue.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { Connection } from './connection.js';

/**
 * What a session keeps about its input once it has sent a frame: its rate
 * bucket and the queue of frames handled in order. Made on the first frame,
 * so a socket that never sends holds none of it.
 */
export class SessionInput {
  /** `limits.messageRate`, counted from admission. */
  readonly rate: TokenBucket;
  /** Tail of the frames being handled in order (a watch check may be async). */
  chain: Promise<void> | null = null;
  /** Frames (and their bytes) waiting behind an unfinished frame. */
  queued = 0;
  queuedBytes = 0;
  paused = false;
  /** Ends a pause that outlasts `pauseTimeoutMs`: an entry of the host's deadline queue while paused. */
  private pauseClock: Deadline | undefined;

  /** `admittedAt`: when the session was admitted (ms since the epoch), where the rate's refill starts. */
  constructor(limits: Readonly<Required<HubLimits>>, admittedAt: number) {
    this.rate = new TokenBucket(limits.messageRate, limits.messageBurst);
    this.rate.start(admittedAt);
  }

  /**
   * Counts a frame that waits behind an unfinished one. Past
   * `maxQueuedBytes` or `maxQueuedMessages` it stops reading `connection`
   * (calling `onStuck` if reads stay paused `pauseTimeoutMs`, by an entry of
   * `deadlines`, the host's one timer); past four times either it returns
   * true: the session closes (4429).
   */
  wait(
    size: number,
    limits: Readonly<Required<HubLimits>>,
    connection: Connection,
    deadlines: DeadlineQueue,
    pauseTimeoutMs: number,
    onStuck: () => void,
  ): boolean {
    this.queued++;
    this.queuedBytes += size;
    const { maxQueuedBytes, maxQueuedMessages } = limits;
    if (this.queuedBytes <= maxQueuedBytes && this.queued <= maxQueuedMessages) return false;
    if (this.queuedBytes > 4 * maxQueuedBytes || this.queued > 4 * maxQueuedMessages) return true;
    if (!this.paused && typeof connection.pause === 'function') {
      this.paused = true;
      connection.pause();
      this.pauseClock = Deadline.of(onStuck);
      deadlines.set(this.pauseClock, Date.now() + pauseTimeoutMs);
    }
    return false;
  }

  /** A waiting frame's turn came; true when that ends a pause (the queue is down to half of both limits): reading may resume. */
  next(size: number, limits: Readonly<Required<HubLimits>>, deadlines: DeadlineQueue): boolean {
    this.queued--;
    this.queuedBytes -= size;
    if (!this.paused) return false;
    if (this.queuedBytes > limits.maxQueuedBytes / 2 || this.queued > limits.maxQueuedMessages / 2) return false;
    this.paused = false;
    this.stop(deadlines);
    return true;
  }

  /** Takes the pause's clock out of `deadlines` (the session closes, or reading resumes). */
  stop(deadlines: DeadlineQueue): void {
    if (this.pauseClock) deadlines.delete(this.pauseClock);
    this.pauseClock = undefined;
  }
}
