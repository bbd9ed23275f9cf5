/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up; a rate
 * of 0 means no limit. It starts full and refills only when it runs dry, so
 * a steady sender under the rate never reads the clock.
 */
export class TokenBucket {
  private tokens: number;
  private at = 0;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Counts the refill from `since` (ms since the epoch; now by default) on: the time before it is not owed. */
  start(since = Date.now()): void {
    this.at = since;
  }

  /** Takes one token; false when there is none. */
  take(): boolean {
    if (this.rate === 0) return true;
    if (this.tokens < 1) {
      const now = Date.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.rate) / 1000);
      this.at = now;
      if (this.tokens < 1) return false;
    }
    this.tokens--;
    return true;
  }
}
