/** How long a user's budget takes to refill from empty, and how often idle entries are swept. */
const REFILL_MS = 60_000;

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Resumes answered per user on this node: a token bucket of `perMinute`
 * tokens, refilled evenly over a minute. A replay is the most a client can
 * make the hub send with one small frame; without a budget, one account
 * reconnecting and resuming in a loop made the hub send its history over
 * and over (231 resumes/s, 48 MB/s). Only users who resumed within the
 * last minute have an entry.
 */
export class ResumeBudget {
  private readonly buckets = new Map<string, Bucket>();
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(private readonly perMinute: number) {
    this.sweeper = setInterval(() => this.sweep(), REFILL_MS);
    this.sweeper.unref();
  }

  /** Takes one resume from `userId`'s budget; false when it is spent. */
  take(userId: string): boolean {
    const now = Date.now();
    const bucket = this.buckets.get(userId);
    if (!bucket) {
      this.buckets.set(userId, { tokens: this.perMinute - 1, at: now });
      return true;
    }
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + ((now - bucket.at) * this.perMinute) / REFILL_MS);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens--;
    return true;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** A bucket untouched for a whole refill is full again: the same as none. */
  private sweep(): void {
    const before = Date.now() - REFILL_MS;
    for (const [userId, bucket] of this.buckets) if (bucket.at <= before) this.buckets.delete(userId);
  }
}
