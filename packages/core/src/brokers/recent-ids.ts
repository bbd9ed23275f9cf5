import { optionError } from '../protocol/protocol.js';
import { isTraceparent } from '../protocol/traceparent.js';

/** How many message ids a hub remembers to drop repeats. */
export const RECENT_IDS_MAX = 10_000;
/** How long a message id is remembered. */
export const RECENT_IDS_TTL_MS = 5 * 60_000;

/**
 * The message ids this hub sent lately, so a sender that may publish the
 * same message again (an outbox relay after a crash) reaches the sockets
 * once. Bounded in count and time. The ids wait in a queue, oldest first,
 * and both bounds trim from its head; a Map gives each id's latest time.
 * (A Map alone, trimmed by deleting its first entry, slows to a crawl once
 * full: each look at the first entry skips every slot deleted before it,
 * about 40 µs a send at 10,000 ids.)
 */
export class RecentIds {
  /** id → when it was last added. */
  private readonly seen = new Map<string, number>();
  /** Every add, oldest first, from `head` on: an id added twice is in it twice. */
  private ids: string[] = [];
  private times: number[] = [];
  private head = 0;

  constructor(
    private readonly max = RECENT_IDS_MAX,
    private readonly ttlMs = RECENT_IDS_TTL_MS,
  ) {}

  /** True when `id` was sent within the window: drop this send. */
  has(id: string, now = Date.now()): boolean {
    this.trim(now, 0);
    return this.seen.has(id);
  }

  /**
   * Remembers `id` once its message was handed to delivery, not before: a
   * send refused on the way (a full broker queue) leaves the id free for the
   * sender's retry.
   */
  add(id: string, now = Date.now()): void {
    this.trim(now, this.seen.has(id) ? 0 : 1);
    this.seen.set(id, now);
    this.ids.push(id);
    this.times.push(now);
  }

  /** Forgets the ids past their time, and the oldest ones until `room` more fit. */
  private trim(now: number, room: number): void {
    const { ids, times, seen } = this;
    while (this.head < ids.length && (now - times[this.head]! >= this.ttlMs || seen.size + room > this.max)) {
      const id = ids[this.head]!;
      // An id added again later stays, with its later time.
      if (seen.get(id) === times[this.head]) seen.delete(id);
      this.head++;
    }
    if (this.head === ids.length) {
      this.ids = [];
      this.times = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > ids.length) {
      this.ids = ids.slice(this.head);
      this.times = times.slice(this.head);
      this.head = 0;
    }
  }
}

/** Options of one `sendMessage` or `push`. */
export interface SendOptions {
  /**
   * An id for this message: a second send with the same id within five
   * minutes (and among the last 10,000 ids) on this hub is dropped.
   */
  id?: string;
  /**
   * A W3C `traceparent` (`00-<trace id>-<span id>-<flags>`) of the span
   * this message comes from when that span is over, such as the
   * transaction that wrote an outbox row: the call's `wshub.send` span
   * gets a link to it. Ignored when tracing is off.
   */
  link?: string;
}

export function assertSendOptions(options: unknown): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`wshub: send options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const id = (options as SendOptions).id;
  if (id !== undefined && (typeof id !== 'string' || id.length === 0)) {
    throw optionError('sendMessage/push', 'id', 'a non-empty string', id);
  }
  const link = (options as SendOptions).link;
  if (link !== undefined && !isTraceparent(link)) {
    throw optionError('sendMessage/push', 'link', 'a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)', link);
  }
  return id;
}
