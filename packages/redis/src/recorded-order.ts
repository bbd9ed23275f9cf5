import type { RecordedMessage } from '@wshub/core';

/** A recorded message with its offset, as a node receives it. */
export type Numbered = RecordedMessage & { readonly offset: number };

/** What the order keeper reports to its history. */
export interface OrderHost {
  /** Delivers a message to this node's sockets (its offset is above every one its recipients got). */
  deliver(message: Numbered): void;
  /**
   * `userId`'s sockets here (every user's, when `undefined`) cannot get
   * `message` in order: something numbered higher reached them first.
   * `floor` is the highest offset they may have got.
   */
  outOfOrder(userId: string | undefined, floor: number, message: Numbered): void;
}

/**
 * Keeps what this node delivers in offset order on Redis Cluster. A user's
 * messages and the broadcasts come from two histories on two shards, over
 * two connections; their offsets follow one clock (see
 * `cluster-history-scripts.ts`), but which arrives first is a race. Each
 * message waits `windowMs` after it arrived, and messages leave in offset
 * order: one that arrives later than that behind a higher one cannot be
 * delivered in order, and is reported instead (the history then closes the
 * recipients' sockets and marks their history lost, so their resume answers
 * `recovered: false` — never a silent gap).
 *
 * Memory: what arrives within `windowMs`, and an offset per user of this
 * node (dropped when the user's last socket here closes).
 */
export class RecordedOrder {
  /** Waiting messages, by offset. */
  private held: Array<{ message: Numbered; due: number }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Highest broadcast offset delivered here. */
  private broadcasts: number;
  /** user → highest offset of theirs delivered here. */
  private readonly users = new Map<string, number>();
  /** At least the highest value in `users` (not lowered when users leave). */
  private usersMax = 0;
  /** Highest offset delivered here. */
  highest: number;

  constructor(
    private readonly host: OrderHost,
    private readonly windowMs: number,
    start: number,
  ) {
    this.broadcasts = start;
    this.highest = start;
  }

  /** The offset a socket starting now stands at: every later delivery here is above it. */
  get floor(): number {
    return this.broadcasts;
  }

  get waiting(): number {
    return this.held.length;
  }

  /** A recorded message arrived: it leaves `windowMs` later, in offset order. */
  add(message: Numbered): void {
    const due = Date.now() + this.windowMs;
    let i = this.held.length;
    while (i > 0 && this.held[i - 1]!.message.offset > message.offset) i--;
    this.held.splice(i, 0, { message, due });
    this.schedule();
  }

  /** Where the node starts (the Redis time once it is known): no socket here stands before it. */
  start(offset: number): void {
    if (offset > this.broadcasts) this.broadcasts = offset;
    if (offset > this.highest) this.highest = offset;
  }

  /** `userId` has no socket here any more. */
  forget(userId: string): void {
    this.users.delete(userId);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held = [];
  }

  private schedule(): void {
    if (this.timer || this.held.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.release();
    }, Math.max(0, this.held[0]!.due - Date.now()));
  }

  private release(): void {
    const now = Date.now();
    let n = 0;
    while (n < this.held.length && this.held[n]!.due <= now) n++;
    const out = this.held.splice(0, n);
    for (const { message } of out) this.deliver(message);
    this.schedule();
  }

  private deliver(message: Numbered): void {
    const { offset, userId } = message;
    if (userId === undefined) {
      if (offset <= this.broadcasts) {
        this.host.outOfOrder(undefined, this.highest, message);
        return;
      }
      if (offset <= this.usersMax) {
        for (const [user, last] of this.users) {
          if (last < offset) continue;
          this.host.outOfOrder(user, last, message);
          this.users.delete(user);
        }
      }
      this.broadcasts = offset;
    } else {
      const floor = Math.max(this.users.get(userId) ?? 0, this.broadcasts);
      if (offset <= floor) {
        this.host.outOfOrder(userId, floor, message);
        return;
      }
      this.users.set(userId, offset);
      if (offset > this.usersMax) this.usersMax = offset;
    }
    if (offset > this.highest) this.highest = offset;
    this.host.deliver(message);
  }
}
