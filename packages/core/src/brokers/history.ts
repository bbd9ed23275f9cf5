import { randomBytes } from 'node:crypto';
import type { DeliveryFilter } from '../routing/delivery-filter.js';

/** `recovery` of `WsHub` options, resolved. */
export interface RecoveryLimits {
  /** Messages kept per user (and for broadcasts), newest first. */
  maxMessages: number;
  /** How long a message is kept, in ms. */
  ttlMs: number;
  /** In-memory history: users whose history is kept at once; past it the one idle longest goes. */
  maxUsers: number;
  /** In-memory history: estimated bytes of every kept message together; past it the histories idle longest go. */
  maxBytes: number;
}

/** What one kept message costs besides its text, roughly (entry, offsets, filter, array slot). */
export const ENTRY_OVERHEAD_BYTES = 150;

/** One message as the history keeps it: what a replay needs to send it again. */
export interface HistoryEntry {
  /** Grows by one per recorded message, for the whole hub. */
  readonly offset: number;
  /** The user it was for; `undefined` for a message to every user (a broadcast). */
  readonly userId: string | undefined;
  readonly filter: DeliveryFilter;
  readonly event: string;
  /** The frame text as v1 clients get it: `{"event":…,"data":…}`. */
  readonly text: string;
  /** `Date.now()` when recorded. */
  readonly at: number;
}

/** Where a client stands: the history it knows (`epoch`) and the last offset it got. */
export interface Position {
  epoch: string;
  offset: number;
}

/** A message to record: for one user, or for every user (`userId` undefined). */
export interface HistoryRecord {
  readonly userId: string | undefined;
  readonly filter: DeliveryFilter;
  readonly event: string;
  /** The frame text as v1 clients get it. */
  readonly text: string;
  /**
   * The W3C `traceparent` of the sender's `wshub.send`, when tracing is
   * on: each node's `wshub.deliver` of it joins that trace. Not kept for
   * replays.
   */
  readonly tp?: string;
  /**
   * The sender's id for this message (`options.id` of `sendMessage`/`push`):
   * a history drops a record whose id it still keeps for the same user (or
   * among the broadcasts), so a sender that sends it again through another
   * node (an outbox relay taking over from a dead one) reaches the client
   * once. Not kept for replays.
   */
  readonly id?: string;
}

/** A message as a history hands it out for delivery: with its offset, or without one when it could not be kept. */
export interface RecordedMessage extends HistoryRecord {
  readonly offset: number | undefined;
}

/**
 * The history message recovery reads from. The hub keeps a
 * {@link MemoryHistory} on a single node; a distributed broker that can keep
 * one for every node offers it through `Broker.history()` (e.g. Redis
 * streams), and then it is the history that delivers.
 */
export interface MessageHistory {
  /**
   * Records a message and has it delivered with its offset on every node
   * that holds a recipient — this one too — in offset order (through
   * `BrokerNode.deliverRecorded`, or the callback of a memory history). A
   * message that cannot be kept (the store is unreachable) is still
   * delivered, without an offset, and no later read may claim to cover it.
   *
   * A history that sends records to a store may bound those in flight: it
   * returns a promise while it is over its bound, and the hub's
   * `sendMessage`/`push` wait for it before they settle.
   */
  record(record: HistoryRecord): void | Promise<void>;
  /**
   * Where a client that starts now stands (this node's view). An empty
   * `epoch` means the history does not know it yet (see `positionKnown`).
   */
  position(): Position;
  /**
   * For a history that learns its epoch after the hub started (from a shared
   * store): resolves once `position()` names it. The hub holds the welcome of
   * a v2 socket, and so its resume answer, until then (at most
   * `authTimeoutMs`), since a client keeps the position it is given and a
   * resume from an empty epoch can only fail. Absent: known from the start.
   */
  positionKnown?(): Promise<void>;
  /**
   * Every message for `userId` (and every broadcast) after `from`, in
   * offset order, or `undefined` when that cannot be served in full:
   * another epoch, an offset the history never gave, or a range that lost
   * messages.
   */
  read(userId: string, from: Position): HistoryEntry[] | undefined | Promise<HistoryEntry[] | undefined>;
  close(): void | Promise<void>;
}

interface Ring {
  /** `undefined` for the broadcasts' ring. */
  userId: string | undefined;
  entries: HistoryEntry[];
  /** Highest offset trimmed from this ring (by count, age or size); 0 when none. */
  droppedUpTo: number;
  /** Estimated bytes of `entries`. */
  bytes: number;
  /** The ids of the kept entries that came with one (id → offset), in offset order. */
  ids: Map<string, number>;
  /** Neighbours in the order of last messages (users' rings only). */
  older: Ring | undefined;
  newer: Ring | undefined;
}

const newRing = (userId: string | undefined, droppedUpTo: number): Ring => ({
  userId,
  entries: [],
  droppedUpTo,
  bytes: 0,
  ids: new Map(),
  older: undefined,
  newer: undefined,
});

const entryBytes = (entry: HistoryEntry) => ENTRY_OVERHEAD_BYTES + entry.text.length;

/**
 * The message history of one hub, in memory: per user, and one for
 * broadcasts, each bounded by `maxMessages` and `ttlMs`, all together by
 * `maxUsers` and `maxBytes` (an app that sends to many users who are
 * mostly offline would otherwise keep a history for each of them for
 * `ttlMs`): past those the histories of the users who got nothing for the
 * longest go first. Offsets come from
 * one counter, so every message has a place in one order and a replay can
 * merge a user's messages with the broadcasts. The epoch names this history:
 * a new process has a new one, so a client's position from before a restart
 * is never taken for this history's.
 *
 * It never claims more than it has: a read whose range lost a message (by
 * count, by age, or with an idle user's whole history) returns `undefined`,
 * which the hub reports to the client as "not recovered".
 */
export class MemoryHistory implements MessageHistory {
  readonly epoch = randomBytes(8).toString('hex');
  private offset = 0;
  private readonly users = new Map<string, Ring>();
  /**
   * The users' rings in the order of their last message, a list through
   * the rings (a Map reordered by delete/set slows to a crawl when its
   * oldest entries are deleted one by one: each lookup of the first skips
   * every deleted slot before it).
   */
  private idlest: Ring | undefined;
  private newest: Ring | undefined;
  private readonly all: Ring = newRing(undefined, 0);
  /** Highest offset of any user history dropped whole (idle past `ttlMs`, or past `maxUsers`/`maxBytes`). */
  private usersDroppedUpTo = 0;
  /** Estimated bytes of every ring together. */
  private bytes = 0;
  private readonly sweeper: ReturnType<typeof setInterval>;

  constructor(
    private readonly limits: RecoveryLimits,
    /** Delivers a recorded message on this node, at once. */
    private readonly deliver: (message: RecordedMessage) => void,
  ) {
    // Idle users' histories would otherwise stay until their next message.
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.floor(limits.ttlMs / 2)));
    this.sweeper.unref();
  }

  /** The position a client starts from now. */
  position(): Position {
    return { epoch: this.epoch, offset: this.offset };
  }

  record({ userId, filter, event, text, tp, id }: HistoryRecord): void {
    const known = userId === undefined ? this.all : this.users.get(userId);
    if (id !== undefined && known && this.holds(known, id)) return;
    const entry: HistoryEntry = { offset: ++this.offset, userId, filter, event, text, at: Date.now() };
    let ring = this.all;
    if (userId !== undefined) {
      if (known) {
        ring = known;
        this.unlink(ring);
      } else {
        // A new history cannot tell whether an earlier one of this user was dropped: it covers nothing before.
        ring = newRing(userId, this.usersDroppedUpTo);
        this.users.set(userId, ring);
      }
      this.linkNewest(ring);
    }
    ring.entries.push(entry);
    if (id !== undefined) ring.ids.set(id, entry.offset);
    const bytes = entryBytes(entry);
    ring.bytes += bytes;
    this.bytes += bytes;
    this.trim(ring, entry.at);
    this.bound(ring);
    this.deliver(tp === undefined ? entry : { ...entry, tp });
  }

  read(userId: string, position: Position): HistoryEntry[] | undefined {
    if (position.epoch !== this.epoch || position.offset > this.offset) return undefined;
    const now = Date.now();
    const mine = this.users.get(userId);
    this.trim(this.all, now);
    if (mine) this.trim(mine, now);
    if (this.all.droppedUpTo > position.offset) return undefined;
    if (mine ? mine.droppedUpTo > position.offset : this.usersDroppedUpTo > position.offset) return undefined;
    const out = after(this.all.entries, position.offset);
    if (mine) out.push(...after(mine.entries, position.offset));
    return out.sort((a, b) => a.offset - b.offset);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** Users with a history kept, and the estimated bytes of every kept message. */
  stats(): { users: number; bytes: number } {
    return { users: this.users.size, bytes: this.bytes };
  }

  /** The newest message kept for `userId` alone: its offset and when it was recorded. */
  newestOf(userId: string): { offset: number; at: number } | undefined {
    return this.users.get(userId)?.entries.at(-1);
  }

  /** True when `ring` still keeps a message that came with `id`: a repeat, dropped. */
  private holds(ring: Ring, id: string): boolean {
    if (!ring.ids.has(id)) return false;
    this.trim(ring, Date.now());
    return ring.ids.has(id);
  }

  private trim(ring: Ring, now: number): void {
    const { maxMessages, ttlMs } = this.limits;
    let drop = Math.max(0, ring.entries.length - maxMessages);
    while (drop < ring.entries.length && now - ring.entries[drop]!.at > ttlMs) drop++;
    this.dropOldest(ring, drop);
  }

  private dropOldest(ring: Ring, count: number): void {
    if (count === 0) return;
    ring.droppedUpTo = ring.entries[count - 1]!.offset;
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += entryBytes(ring.entries[i]!);
    ring.bytes -= bytes;
    this.bytes -= bytes;
    ring.entries.splice(0, count);
    for (const [id, offset] of ring.ids) {
      if (offset > ring.droppedUpTo) break;
      ring.ids.delete(id);
    }
  }

  /**
   * Past `maxUsers` or `maxBytes`, the histories of the users idle longest
   * go whole (their resumes answer failed); `current`, just written to, goes
   * last: if it alone is over `maxBytes`, its oldest messages go instead.
   */
  private bound(current: Ring): void {
    const { maxUsers, maxBytes } = this.limits;
    while (this.users.size > maxUsers || this.bytes > maxBytes) {
      const idlest = this.idlest;
      if (idlest === undefined || idlest === current) break;
      this.dropUser(idlest);
    }
    if (this.bytes > maxBytes) this.dropOldest(current, this.overBy(current));
    // Still over: the rest is in the broadcasts, the only other ring left.
    if (this.bytes > maxBytes) this.dropOldest(this.all, this.overBy(this.all));
  }

  /** How many of `ring`'s oldest messages must go to bring the whole history within `maxBytes`. */
  private overBy(ring: Ring): number {
    let count = 0;
    for (let over = this.bytes - this.limits.maxBytes; over > 0 && count < ring.entries.length; count++) {
      over -= entryBytes(ring.entries[count]!);
    }
    return count;
  }

  private dropUser(ring: Ring): void {
    const last = ring.entries.at(-1)?.offset ?? ring.droppedUpTo;
    this.usersDroppedUpTo = Math.max(this.usersDroppedUpTo, last);
    this.bytes -= ring.bytes;
    this.users.delete(ring.userId!);
    this.unlink(ring);
  }

  private linkNewest(ring: Ring): void {
    ring.older = this.newest;
    ring.newer = undefined;
    if (this.newest) this.newest.newer = ring;
    else this.idlest = ring;
    this.newest = ring;
  }

  private unlink(ring: Ring): void {
    if (ring.older) ring.older.newer = ring.newer;
    else this.idlest = ring.newer;
    if (ring.newer) ring.newer.older = ring.older;
    else this.newest = ring.older;
    ring.older = ring.newer = undefined;
  }

  private sweep(): void {
    const now = Date.now();
    this.trim(this.all, now);
    for (const ring of this.users.values()) {
      this.trim(ring, now);
      if (ring.entries.length === 0) this.dropUser(ring);
    }
  }
}

function after(entries: HistoryEntry[], offset: number): HistoryEntry[] {
  let i = entries.length;
  while (i > 0 && entries[i - 1]!.offset > offset) i--;
  return entries.slice(i);
}
