import type { Confirmation, ReceiptEnvelope } from '../brokers/broker.js';
import { type ReceiptTag, tagText } from '../brokers/receipt-tag.js';
import type { ReceiptLimits } from '../config/receipts.js';
import type { DeliveryFilter } from '../routing/delivery-filter.js';
import type { PreparedMessage } from '../session/connection.js';
import type { SocketSession } from '../session/socket-session.js';
import type { HubCounters } from './hub-counters.js';

/** Payload of `'delivered'`: one device of the user confirmed the message. */
export interface MessageDelivered {
  /** The message's id (what `sendMessage`/`push` resolved with). */
  id: string;
  userId: string;
  deviceFingerprint: string;
  /** The id of the socket that confirmed it (`socket.id`). */
  socketId: string;
  event: string;
  /** `Date.now()` when the confirmation reached the hub. */
  at: number;
  /** Present (true) when `'undelivered'` had already fired for this message and user. */
  late?: true;
}

/** Payload of `'undelivered'`: no device of the user confirmed the message in time. */
export interface MessageUndelivered {
  id: string;
  userId: string;
  event: string;
  /** The data as the app gave it (for a per-user `push`, this user's). */
  data: unknown;
  /** The `isWatchingOrPayload` filter it was sent with: `null` (every socket), `true` (watchers of the event), or a payload. */
  scope: DeliveryFilter;
}

/** What receipts need from the hub. */
export interface ReceiptsHost {
  readonly nodeId: string;
  readonly counters: HubCounters;
  delivered(event: MessageDelivered): void;
  undelivered(event: MessageUndelivered): void;
  /** Carries confirmations to the node that owns their receipts. */
  send(envelope: ReceiptEnvelope): void;
}

interface Pending {
  readonly id: string;
  readonly userId: string;
  readonly event: string;
  readonly data: unknown;
  readonly scope: DeliveryFilter;
  readonly deadline: number;
}

/** A message a socket got and may confirm. */
interface Unconfirmed {
  readonly origin: string;
  readonly event: string;
}

const keyOf = (id: string, userId: string): string => `${id}\u0000${userId}`;

/** Most confirmations in one envelope to a node. */
const MAX_BATCH = 1024;

/**
 * Receipts: which device got a message, and the ones nobody got.
 *
 * Two roles on every node. As the **sender's node**, it holds a pending
 * receipt per (message, user) with one deadline; the first confirmation from
 * any device of the user settles it, and at the deadline an unconfirmed one
 * fires `'undelivered'` — only here, so once in the cluster. As a
 * **delivering node**, it remembers, per socket, the ids written to it that
 * it may confirm; a confirmation of anything else is ignored and counted,
 * so a client confirms only messages sent to its own user. Both are bounded
 * (`maxPendingPerUser`, `maxPending`): past them the oldest go first.
 *
 * Pending receipts are kept in a Map in insertion order, which is deadline
 * order (one delay for all), so one timer for the oldest serves them all.
 */
export class Receipts {
  private readonly pending = new Map<string, Pending>();
  private readonly pendingOf = new Map<string, Set<string>>();
  /** Keys whose `'undelivered'` fired, so a later confirmation says `late` (the newest `maxPending`). */
  private readonly fired = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly unconfirmed = new Map<SocketSession, Map<string, Unconfirmed>>();
  private unconfirmedCount = 0;
  /** Confirmations for other nodes, by node, sent once this turn ends. */
  private readonly outbox = new Map<string, Confirmation[]>();
  private flushScheduled = false;

  constructor(
    readonly limits: ReceiptLimits,
    private readonly host: ReceiptsHost,
  ) {}

  /** Receipts pending on this node. */
  get pendingCount(): number {
    return this.pending.size;
  }

  // ------------------------------------------------------ the sender's node

  /** Waits for a device of `userId` to confirm message `id`. */
  track(id: string, userId: string, event: string, data: unknown, scope: DeliveryFilter): void {
    const key = keyOf(id, userId);
    // The same id again for the same user (a push and a sendMessage sharing it): one receipt, the newer deadline.
    if (this.pending.has(key)) this.remove(key, userId);
    const { maxPendingPerUser, maxPending, undeliveredAfterMs } = this.limits;
    let mine = this.pendingOf.get(userId);
    if (mine && mine.size >= maxPendingPerUser) {
      const oldest = mine.values().next().value as string;
      this.expire(oldest, this.pending.get(oldest) as Pending);
    }
    if (this.pending.size >= maxPending) {
      const [oldest, entry] = this.pending.entries().next().value as [string, Pending];
      this.expire(oldest, entry);
    }
    mine = this.pendingOf.get(userId);
    if (!mine) {
      mine = new Set();
      this.pendingOf.set(userId, mine);
    }
    mine.add(key);
    const deadline = Date.now() + undeliveredAfterMs;
    this.pending.set(key, { id, userId, event, data, scope, deadline });
    if (this.timer === undefined) this.arm(deadline);
  }

  /** Confirmations for receipts this node owns, from its own sockets or another node's. */
  confirmed(envelope: ReceiptEnvelope): void {
    for (const item of envelope.items) this.settle(item);
  }

  private settle([id, event, userId, deviceFingerprint, socketId, at]: Confirmation): void {
    const key = keyOf(id, userId);
    const late = !this.pending.has(key) && this.fired.has(key);
    if (this.pending.has(key)) this.remove(key, userId);
    this.host.counters.receiptsDelivered++;
    this.host.delivered(
      late ? { id, userId, deviceFingerprint, socketId, event, at, late: true } : { id, userId, deviceFingerprint, socketId, event, at },
    );
  }

  private remove(key: string, userId: string): void {
    this.pending.delete(key);
    const mine = this.pendingOf.get(userId);
    if (mine?.delete(key) && mine.size === 0) this.pendingOf.delete(userId);
  }

  /** No device confirmed in time (or the limits pushed it out): `'undelivered'`, once. */
  private expire(key: string, entry: Pending): void {
    this.remove(key, entry.userId);
    this.fired.add(key);
    if (this.fired.size > this.limits.maxPending) this.fired.delete(this.fired.values().next().value as string);
    this.host.counters.receiptsUndelivered++;
    this.host.undelivered({ id: entry.id, userId: entry.userId, event: entry.event, data: entry.data, scope: entry.scope });
  }

  private arm(deadline: number): void {
    this.timer = setTimeout(() => this.due(), Math.max(0, deadline - Date.now()));
    this.timer.unref?.();
  }

  private due(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const [key, entry] of this.pending) {
      if (entry.deadline > now) {
        this.arm(entry.deadline);
        return;
      }
      this.expire(key, entry);
    }
  }

  // ---------------------------------------------------- a delivering node

  /** `message` (which wants a receipt) was written to `session`. */
  written(session: SocketSession, message: PreparedMessage): void {
    const tag = message.receipt;
    if (!tag) return;
    if (!session.v2) {
      // A v1 client cannot confirm; with confirmV1OnWrite the write is its confirmation.
      if (this.limits.confirmV1OnWrite) this.forward(session, tag.origin, tag.id, message.event, Date.now());
      return;
    }
    let mine = this.unconfirmed.get(session);
    if (!mine) {
      mine = new Map();
      this.unconfirmed.set(session, mine);
    }
    if (mine.delete(tag.id)) this.unconfirmedCount--;
    if (mine.size >= this.limits.maxPendingPerUser) this.forgetOldest(session, mine);
    if (this.unconfirmedCount >= this.limits.maxPending) {
      const [first, theirs] = this.unconfirmed.entries().next().value as [SocketSession, Map<string, Unconfirmed>];
      this.forgetOldest(first, theirs);
    }
    mine.set(tag.id, { origin: tag.origin, event: message.event });
    this.unconfirmedCount++;
  }

  private forgetOldest(session: SocketSession, mine: Map<string, Unconfirmed>): void {
    const oldest = mine.keys().next();
    if (oldest.done) return;
    mine.delete(oldest.value);
    this.unconfirmedCount--;
    if (mine.size === 0) this.unconfirmed.delete(session);
  }

  /**
   * A client confirmed `ids`. Only ids written to this very socket and not
   * yet confirmed count; the rest (forged, another user's, repeated,
   * forgotten past the limits) are ignored and counted.
   */
  confirm(session: SocketSession, ids: readonly string[]): void {
    const mine = this.unconfirmed.get(session);
    const counters = this.host.counters;
    const at = Date.now();
    for (const id of ids) {
      const entry = mine?.get(id);
      if (!entry) {
        counters.receiptsIgnored++;
        continue;
      }
      mine?.delete(id);
      this.unconfirmedCount--;
      counters.receiptsConfirmed++;
      this.forward(session, entry.origin, id, entry.event, at);
    }
    if (mine?.size === 0) this.unconfirmed.delete(session);
  }

  /**
   * One confirmation to the sender's node: settled here when it is this
   * node; else batched with the others of this event-loop turn for that
   * node (one envelope, whatever sockets they came from), at most
   * {@link MAX_BATCH} to an envelope.
   */
  private forward(session: SocketSession, origin: string, id: string, event: string, at: number): void {
    const item: Confirmation = [id, event, session.userId, session.deviceFingerprint, session.id, at];
    if (origin === this.host.nodeId) {
      this.settle(item);
      return;
    }
    let items = this.outbox.get(origin);
    if (!items) {
      items = [];
      this.outbox.set(origin, items);
    }
    items.push(item);
    if (items.length >= MAX_BATCH) this.flushTo(origin);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flushTo(origin: string): void {
    const items = this.outbox.get(origin);
    this.outbox.delete(origin);
    if (items && items.length > 0) this.host.send({ kind: 'receipt', origin, items });
  }

  /** Sends what this turn's confirmations batched. */
  private flush(): void {
    this.flushScheduled = false;
    for (const origin of [...this.outbox.keys()]) this.flushTo(origin);
  }

  /** The socket closed: what it got unconfirmed can no longer be confirmed by it. */
  ended(session: SocketSession): void {
    const mine = this.unconfirmed.get(session);
    if (!mine) return;
    this.unconfirmedCount -= mine.size;
    this.unconfirmed.delete(session);
  }

  /** The hub closes: pending receipts are dropped, neither `'delivered'` nor `'undelivered'`. */
  close(): void {
    this.flush();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
    this.pendingOf.clear();
  }
}

/**
 * A message that wants a receipt, as this node writes it: v1 clients get the
 * frame as it is; v2 clients get it with `"id"` (and `"offset"` when it has
 * one), which they confirm; `wire` is what the broker and the history carry.
 */
export function withReceipt(message: PreparedMessage, tag: ReceiptTag, wire = tagText(message.text, tag)): PreparedMessage {
  const base = message.text.slice(0, -1);
  const scope = message.scope === undefined ? '' : `,"scope":${JSON.stringify(message.scope)}`;
  const offset = message.offset === undefined ? '' : `,"offset":${message.offset}`;
  const text = `${base}${scope}${offset},"id":${JSON.stringify(tag.id)}}`;
  const v2: PreparedMessage = {
    event: message.event,
    text,
    byteLength: Buffer.byteLength(text),
    reply: false,
    offset: message.offset,
    scope: message.scope,
    receipt: tag,
  };
  return {
    event: message.event,
    text: message.text,
    byteLength: message.byteLength,
    reply: false,
    offset: message.offset,
    scope: message.scope,
    v2,
    receipt: tag,
    wire,
  };
}
