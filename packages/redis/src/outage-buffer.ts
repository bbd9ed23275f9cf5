/** A publish that was never handed to Redis. */
export interface HeldPublish {
  readonly channel: string;
  readonly data: string;
  /** When it was published (ms since the epoch). */
  readonly at: number;
  readonly bytes: number;
  /** Publishes of one lane keep their order (one lane on one Redis; the channel's slot on a cluster). */
  readonly lane: number;
}

export interface OutageBufferLimits {
  maxMessages: number;
  maxBytes: number;
  maxAgeMs: number;
}

/**
 * Cross-node publishes made while Redis is unreachable, oldest first, bounded
 * by count, bytes and age. Only publishes that never reached a connection are
 * held, so sending them later cannot deliver anything twice. When a limit is
 * hit the oldest go first: a fresh notification is worth more than a stale one.
 */
export class OutageBuffer {
  private items: HeldPublish[] = [];
  private head = 0;
  private heldBytes = 0;
  /** lane → how many of its publishes are held. */
  private readonly perLane = new Map<number, number>();

  constructor(private readonly limits: OutageBufferLimits) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.heldBytes;
  }

  /** How many publishes of `lane` are held. */
  heldIn(lane: number): number {
    return this.perLane.get(lane) ?? 0;
  }

  /** Holds a publish; returns how many publishes (older ones, or this one) were dropped to stay in bounds. */
  push(channel: string, data: string, now: number, lane = 0): number {
    const bytes = Buffer.byteLength(data);
    if (bytes > this.limits.maxBytes || this.limits.maxMessages === 0) return 1;
    let dropped = 0;
    while (this.length > 0 && (this.length >= this.limits.maxMessages || this.heldBytes + bytes > this.limits.maxBytes)) {
      this.shift();
      dropped++;
    }
    this.items.push({ channel, data, at: now, bytes, lane });
    this.heldBytes += bytes;
    this.perLane.set(lane, this.heldIn(lane) + 1);
    return dropped;
  }

  /** Drops publishes older than `maxAgeMs`; returns how many. */
  expire(now: number): number {
    let dropped = 0;
    while (this.length > 0 && now - this.items[this.head]!.at > this.limits.maxAgeMs) {
      this.shift();
      dropped++;
    }
    return dropped;
  }

  /** Takes every held publish, oldest first, and empties the buffer. */
  drain(): HeldPublish[] {
    const out = this.head === 0 ? this.items : this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    this.heldBytes = 0;
    this.perLane.clear();
    return out;
  }

  /**
   * Takes the held publishes of the lanes for which `open(lane)` is true,
   * oldest first, and keeps the others in their order. `open` is asked once
   * per lane, so a lane goes whole or not at all.
   */
  take(open: (lane: number) => boolean): HeldPublish[] {
    const answers = new Map<number, boolean>();
    const isOpen = (lane: number) => {
      let answer = answers.get(lane);
      if (answer === undefined) {
        answer = open(lane);
        answers.set(lane, answer);
      }
      return answer;
    };
    const taken: HeldPublish[] = [];
    const kept: HeldPublish[] = [];
    for (const item of this.drain()) (isOpen(item.lane) ? taken : kept).push(item);
    for (const item of kept) {
      this.items.push(item);
      this.heldBytes += item.bytes;
      this.perLane.set(item.lane, this.heldIn(item.lane) + 1);
    }
    return taken;
  }

  private shift(): void {
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as unknown as HeldPublish; // let the string be collected
    this.head++;
    this.heldBytes -= item.bytes;
    const left = this.heldIn(item.lane) - 1;
    if (left > 0) this.perLane.set(item.lane, left);
    else this.perLane.delete(item.lane);
    // Compact once the dead prefix dominates, so memory follows `length`, not history.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
