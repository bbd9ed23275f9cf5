import type { Confirmations, ReceiptEnvelope } from '../brokers/broker.js';
import { type MessageReceipt, type ReceiptTag, tagText } from '../brokers/receipt-tag.js';
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
  /** Whether anyone listens to `'delivered'` (else its payload is not made). */
  readonly listensDelivered: boolean;
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
  /** Confirmed, expired or replaced: no longer pending (it may still wait in the queue). */
  done: boolean;
}

const keyOf = (id: string, userId: string): string => `${id}\u0000${userId}`;

/** Most confirmations (ids) in one envelope to a node. */
const MAX_BATCH = 1024;

/** This turn's confirmations for one node: one entry per socket, and how many ids in all. */
interface Outgoing {
  readonly bySocket: Map<SocketSession, Confirmations>;
  ids: number;
}

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
 * Pending receipts wait in a queue in insertion order, which is deadline
 * order (one delay for all), so one timer for the oldest serves them all;
 * each user's are also kept by id, so a confirmation finds its receipt
 * without building a key. A receipt that settles is only marked done: the
 * queue drops done ones as its head passes them, and is rebuilt without
 * them once they are more than half of it, so it never holds more than
 * about twice what is pending. (A Set in place of the queue cost each
 * message two more hash operations and grew and shrank its table all the
 * time: about 5 % of a busy hub's CPU per targeted send with receipts.)
 *
 * A socket's unconfirmed messages map each id to the message's one
 * {@link MessageReceipt}, shared by every socket it was written to.
 */
export class Receipts {
  /** Pending receipts, oldest first from `head` on, with done ones among them. */
  private queue: Pending[] = [];
  private head = 0;
  /** Receipts pending (not done). */
  private count = 0;
  private readonly pendingOf = new Map<string, Map<string, Pending>>();
  /** Keys (`keyOf`) whose `'undelivered'` fired, so a later confirmation says `late` (the newest `maxPending`). */
  private readonly fired = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly unconfirmed = new Map<SocketSession, Map<string, MessageReceipt>>();
  private unconfirmedCount = 0;
  /** Confirmations for other nodes, by node and socket, sent once this turn ends. */
  private readonly outbox = new Map<string, Outgoing>();
  private flushScheduled = false;

  constructor(
    readonly limits: ReceiptLimits,
    private readonly host: ReceiptsHost,
  ) {}

  /** Receipts pending on this node. */
  get pendingCount(): number {
    return this.count;
  }

  // ------------------------------------------------------ the sender's node

  /** Waits for a device of `userId` to confirm message `id`. */
  track(id: string, userId: string, event: string, data: unknown, scope: DeliveryFilter): void {
    const { maxPendingPerUser, maxPending, undeliveredAfterMs } = this.limits;
    let mine = this.pendingOf.get(userId);
    if (mine !== undefined) {
      // The same id again for the same user (a push and a sendMessage sharing it): one receipt, the newer deadline.
      const again = mine.get(id);
      if (again !== undefined) this.remove(again);
      if (mine.size >= maxPendingPerUser) this.expire(mine.values().next().value as Pending);
    }
    if (this.count >= maxPending) this.expire(this.oldest() as Pending);
    // A user's map leaves `pendingOf` when its last receipt does (above, too): put it back.
    if (mine === undefined || mine.size === 0) {
      mine ??= new Map();
      this.pendingOf.set(userId, mine);
    }
    const deadline = Date.now() + undeliveredAfterMs;
    const entry: Pending = { id, userId, event, data, scope, deadline, done: false };
    mine.set(id, entry);
    this.queue.push(entry);
    this.count++;
    if (this.timer === undefined) this.arm(deadline);
  }

  /** Confirmations for receipts this node owns, from another node's sockets. */
  confirmed(envelope: ReceiptEnvelope): void {
    for (const item of envelope.items) {
      const [userId, deviceFingerprint, socketId, at] = item;
      for (let i = 4; i < item.length; i += 2) this.settle(item[i] as string, item[i + 1] as string, userId, deviceFingerprint, socketId, at);
    }
  }

  private settle(id: string, event: string, userId: string, deviceFingerprint: string, socketId: string, at: number): void {
    const entry = this.pendingOf.get(userId)?.get(id);
    if (entry) this.remove(entry);
    this.host.counters.receiptsDelivered++;
    if (!this.host.listensDelivered) return;
    // Not pending: 'undelivered' fired already (late), or the receipt is unknown here (a restart, the limits).
    const late = !entry && this.fired.size > 0 && this.fired.has(keyOf(id, userId));
    this.host.delivered(
      late ? { id, userId, deviceFingerprint, socketId, event, at, late: true } : { id, userId, deviceFingerprint, socketId, event, at },
    );
  }

  private remove(entry: Pending): void {
    if (entry.done) return;
    entry.done = true;
    this.count--;
    const mine = this.pendingOf.get(entry.userId);
    if (mine?.delete(entry.id) && mine.size === 0) this.pendingOf.delete(entry.userId);
    // Done ones are more than half of the queue: rebuild it with the pending ones only.
    const waiting = this.queue.length - this.head;
    if (waiting > 64 && this.count * 2 < waiting) this.compact();
  }

  /** The oldest pending receipt; the done ones before it leave the queue. */
  private oldest(): Pending | undefined {
    const queue = this.queue;
    while (this.head < queue.length && queue[this.head]!.done) this.head++;
    if (this.head === queue.length) {
      this.queue = [];
      this.head = 0;
      return undefined;
    }
    // What the head passed (expired receipts, when nothing confirms) is let go now and then.
    if (this.head > 4096 && this.head * 2 > queue.length) this.compact();
    return this.queue[this.head];
  }

  private compact(): void {
    const kept: Pending[] = [];
    const queue = this.queue;
    for (let i = this.head; i < queue.length; i++) if (!queue[i]!.done) kept.push(queue[i]!);
    this.queue = kept;
    this.head = 0;
  }

  /** No device confirmed in time (or the limits pushed it out): `'undelivered'`, once. */
  private expire(entry: Pending): void {
    const key = keyOf(entry.id, entry.userId);
    this.remove(entry);
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
    for (let entry = this.oldest(); entry !== undefined; entry = this.oldest()) {
      if (entry.deadline > now) {
        this.arm(entry.deadline);
        return;
      }
      this.expire(entry);
    }
  }

  // ---------------------------------------------------- a delivering node

  /** `message` (which wants a receipt) was written to `session`. */
  written(session: SocketSession, message: PreparedMessage): void {
    const tag = message.receipt;
    if (!tag) return;
    if (!session.v2) {
      // A v1 client cannot confirm; with confirmV1OnWrite the write is its confirmation.
      if (this.limits.confirmV1OnWrite) this.forward(session, tag, Date.now());
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
      const [first, theirs] = this.unconfirmed.entries().next().value as [SocketSession, Map<string, MessageReceipt>];
      this.forgetOldest(first, theirs);
    }
    mine.set(tag.id, tag);
    this.unconfirmedCount++;
  }

  private forgetOldest(session: SocketSession, mine: Map<string, MessageReceipt>): void {
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
    if (!mine) {
      counters.receiptsIgnored += ids.length;
      return;
    }
    const at = Date.now();
    for (let i = 0; i < ids.length; i++) {
      const receipt = mine.get(ids[i] as string);
      if (!receipt) {
        counters.receiptsIgnored++;
        continue;
      }
      mine.delete(receipt.id);
      this.unconfirmedCount--;
      counters.receiptsConfirmed++;
      this.forward(session, receipt, at);
    }
    if (mine.size === 0) this.unconfirmed.delete(session);
  }

  /**
   * One confirmation to the sender's node: settled here when it is this
   * node; else batched with the others of this event-loop turn for that
   * node (one envelope, one entry per socket), at most {@link MAX_BATCH}
   * ids to an envelope.
   */
  private forward(session: SocketSession, { id, origin, event }: MessageReceipt, at: number): void {
    if (origin === this.host.nodeId) {
      this.settle(id, event, session.userId, session.deviceFingerprint, session.id, at);
      return;
    }
    let outgoing = this.outbox.get(origin);
    if (!outgoing) {
      outgoing = { bySocket: new Map(), ids: 0 };
      this.outbox.set(origin, outgoing);
    }
    let item = outgoing.bySocket.get(session);
    if (!item) {
      item = [session.userId, session.deviceFingerprint, session.id, at];
      outgoing.bySocket.set(session, item);
    }
    item.push(id, event);
    if (++outgoing.ids >= MAX_BATCH) this.flushTo(origin);
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flushTo(origin: string): void {
    const outgoing = this.outbox.get(origin);
    this.outbox.delete(origin);
    if (outgoing && outgoing.ids > 0) this.host.send({ kind: 'receipt', origin, items: [...outgoing.bySocket.values()] });
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
    this.queue = [];
    this.head = 0;
    this.count = 0;
    this.pendingOf.clear();
  }
}

/**
 * A message with an id, as this node writes it: v1 clients get the frame as
 * it is; v2 clients get it with `"id"` (and `"offset"` when it has one),
 * which they confirm when the tag has an `origin` (a receipt) and use to
 * drop a repeat. The v2 frame is built on its first write to a v2 socket,
 * so a node with no v2 socket for it (the sender's, often) never builds it.
 */
export function withReceipt(message: PreparedMessage, tag: ReceiptTag): PreparedMessage {
  // One for the message, whatever sockets it is written to (they remember it until they confirm).
  const receipt: MessageReceipt | undefined = tag.origin === undefined ? undefined : { id: tag.id, origin: tag.origin, event: message.event };
  return new IdentifiedMessage(message, tag.id, receipt, message.offset, message.scope);
}

/** A message with an id (see {@link withReceipt}); `Delivery.forClients` makes one for a message that travelled with its id. */
export class IdentifiedMessage implements PreparedMessage {
  readonly event: string;
  readonly text: string;
  readonly byteLength: number;
  readonly reply = false;
  readonly offset: number | undefined;
  readonly scope: true | string | undefined;
  #v2: PreparedMessage | undefined;

  constructor(
    message: PreparedMessage,
    readonly id: string,
    readonly receipt: MessageReceipt | undefined,
    offset: number | undefined,
    scope: true | string | undefined,
  ) {
    this.event = message.event;
    this.text = message.text;
    this.byteLength = message.byteLength;
    this.offset = offset;
    this.scope = scope;
  }

  get v2(): PreparedMessage {
    if (this.#v2 === undefined) {
      const scope = this.scope === undefined ? '' : `,"scope":${JSON.stringify(this.scope)}`;
      const offset = this.offset === undefined ? '' : `,"offset":${this.offset}`;
      const added = `${scope}${offset},"id":${JSON.stringify(this.id)}`;
      this.#v2 = {
        event: this.event,
        text: `${this.text.slice(0, -1)}${added}}`,
        // The frame's bytes and those added before its closing brace: the frame is not measured again.
        byteLength: this.byteLength + Buffer.byteLength(added),
        reply: false,
        offset: this.offset,
        scope: this.scope,
        id: this.id,
        receipt: this.receipt,
      };
    }
    return this.#v2;
  }
}

/** The text the history carries for a message: the frame, with its tag when it has an id. */
export function recordedText(message: PreparedMessage): string {
  return message.id === undefined ? message.text : tagText(message.text, { id: message.id, origin: message.receipt?.origin });
}
