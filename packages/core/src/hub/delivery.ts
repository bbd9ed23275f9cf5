import type { PreparedMessage } from '../session/connection.js';
import { OPEN } from '../session/connection.js';
import { type DeliveryFilter, matchesFilter } from '../routing/delivery-filter.js';
import { HubError } from '../protocol/errors.js';
import type { HubCounters } from './hub-counters.js';
import { IdentifiedMessage } from './receipts.js';
import { untagText } from '../brokers/receipt-tag.js';
import type { SocketSession } from '../session/socket-session.js';
import type { UserRegistry } from '../routing/user-registry.js';
import type { WatchRegistry } from '../routing/watch-registry.js';

/** The slow-consumer rule's two numbers (`limits.maxBufferedBytes`, `drainTimeoutMs`). */
export interface SlowConsumerRule {
  readonly maxBufferedBytes: number;
  readonly drainTimeoutMs: number;
}

/** Told of every message that wants a receipt once it is written to a socket (see `Receipts.written`). */
export interface ReceiptSink {
  written(session: SocketSession, message: PreparedMessage): void;
}

/** What delivery writes to and by which rules. */
export interface DeliveryOptions {
  /** The admitted sessions, by user. */
  readonly rooms: UserRegistry<SocketSession>;
  /** The sessions, by what they watch. */
  readonly watchers: WatchRegistry<SocketSession>;
  readonly counters: HubCounters;
  readonly rule: SlowConsumerRule;
  /** The app's `serialize`, run once per message. */
  readonly serialize: ((data: unknown) => unknown) | undefined;
  readonly report: (error: HubError) => void;
}

/**
 * Writing messages to this node's sockets: a message is serialized and
 * encoded once, then written to each recipient under the slow-consumer rule.
 */
export class Delivery {
  private readonly maxBufferedBytes: number;
  /**
   * Sessions a write left with more than `maxBufferedBytes` queued, judged
   * again once no message may come: `due` at the armed timer, `next` at the
   * one after it, so each waits at least `drainTimeoutMs`.
   */
  private due = new Set<SocketSession>();
  private next = new Set<SocketSession>();
  private recheckTimer: ReturnType<typeof setTimeout> | undefined;
  /** With receipts on: messages that travelled carry a receipt tag, and writes of them are reported here. */
  receipts: ReceiptSink | undefined;

  private readonly rooms: UserRegistry<SocketSession>;
  private readonly watches: WatchRegistry<SocketSession>;
  private readonly counters: HubCounters;
  private readonly rule: SlowConsumerRule;
  private readonly serialize: ((data: unknown) => unknown) | undefined;
  private readonly report: (error: HubError) => void;

  constructor(options: DeliveryOptions) {
    this.rooms = options.rooms;
    this.watches = options.watchers;
    this.counters = options.counters;
    this.rule = options.rule;
    this.serialize = options.serialize;
    this.report = options.report;
    this.maxBufferedBytes = options.rule.maxBufferedBytes;
  }

  /**
   * Serializes and encodes a message once; `undefined` (and an `'error'`)
   * when that fails. Replies are the hub's own data and skip `serialize`.
   */
  prepare(event: string, data: unknown, reply = false): PreparedMessage | undefined {
    let text: string;
    try {
      const plain = !reply && this.serialize ? this.serialize(data) : data;
      text = JSON.stringify({ event, data: plain });
    } catch (error) {
      this.report(HubError.from('serialize', error, `event "${event}"`));
      return undefined;
    }
    return { event, text, byteLength: Buffer.byteLength(text), reply };
  }

  /**
   * The message as v1 and v2 clients get it, built once per message and
   * filter, never per socket: v1 clients get the frame as it is; v2 clients
   * get it with `"scope"` (the filter it was sent with, unless it went to the
   * whole user) and, with recovery, `"offset"` (its place in the history).
   */
  forClients(message: PreparedMessage, filter: DeliveryFilter, offset?: number): PreparedMessage {
    const scope = filter === null ? undefined : filter;
    // The id goes last, after the scope and the offset.
    if (message.id !== undefined) return new IdentifiedMessage(message, message.id, message.receipt, offset, scope);
    if (scope === undefined && offset === undefined) return message;
    const added = `${scope === undefined ? '' : `,"scope":${JSON.stringify(scope)}`}${offset === undefined ? '' : `,"offset":${offset}`}`;
    const text = `${message.text.slice(0, -1)}${added}}`;
    const v2: PreparedMessage = {
      event: message.event,
      text,
      byteLength: message.byteLength + Buffer.byteLength(added),
      reply: false,
      offset,
      scope,
    };
    return { event: message.event, text: message.text, byteLength: message.byteLength, reply: false, offset, scope, v2 };
  }

  /**
   * A message that travelled (from another node, or the history), to hand
   * to {@link forClients}: with an id (a receipt's, or the sender's alone)
   * and, for a receipt, the node that owns it. A broker's envelope carries
   * them beside the frame (`id`, `origin`); the history's text carries them
   * as a tag inside it (`receipt-tag.ts`), read here when no `id` is given.
   * `forClients` builds what v2 clients get (with the id) once. A receipt
   * is kept only with receipts on here.
   */
  wrap(event: string, text: string, id?: string, origin?: string): PreparedMessage {
    let frame = text;
    if (id === undefined) {
      const tagged = untagText(text);
      if (!tagged) return { event, text, byteLength: Buffer.byteLength(text), reply: false };
      frame = tagged.text;
      id = tagged.tag.id;
      origin = tagged.tag.origin;
    }
    const receipt = this.receipts && origin !== undefined ? { id, origin, event } : undefined;
    return { event, text: frame, byteLength: Buffer.byteLength(frame), reply: false, id, receipt };
  }

  /**
   * A message larger than `maxBufferedBytes` is not sent at all: the error
   * names the event and both sizes. Callers check before any socket.
   */
  oversize(message: PreparedMessage): RangeError | undefined {
    const max = this.maxBufferedBytes;
    if (message.byteLength <= max) return undefined;
    return new RangeError(
      `wshub: message "${message.event}" is ${message.byteLength} bytes, more than limits.maxBufferedBytes (${max}); it was not sent`,
    );
  }

  /**
   * Writes one message to one session. Only open connections are written to.
   * One that still has more than `maxBufferedBytes` undrained from earlier
   * turns is not reading: it is cut off (4008) instead, so one slow reader
   * cannot hold the hub's memory, while a burst to a reader never trips it.
   * A write that leaves more than that queued is judged again
   * `drainTimeoutMs` later, so a burst to a client that stopped reading is
   * cut even when no message follows it. Never throws.
   */
  write(session: SocketSession, prepared: PreparedMessage): void {
    // v2 clients get the frame that carries the scope and the offset.
    const message = session.v2 && prepared.v2 ? prepared.v2 : prepared;
    const connection = session.connection;
    if (connection.readyState !== OPEN || session.held) {
      this.counters.dropped++;
      return;
    }
    if (connection.backlog() > this.maxBufferedBytes) {
      this.cutOff(session);
      this.counters.dropped++;
      return;
    }
    try {
      connection.write(message);
    } catch (error) {
      this.counters.dropped++;
      this.report(HubError.from('write', error));
      return;
    }
    this.counters.messagesOut++;
    this.counters.bytesOut += message.byteLength;
    if (prepared.receipt) this.receipts?.written(session, prepared);
    if ((connection.buffered?.() ?? connection.backlog()) > this.maxBufferedBytes) this.recheckLater(session);
  }

  private cutOff(session: SocketSession): void {
    if (session.phase !== 'closed') this.counters.slowConsumers++;
    session.cutOff();
  }

  private recheckLater(session: SocketSession): void {
    this.next.add(session);
    if (this.recheckTimer === undefined) this.armRecheck();
  }

  private armRecheck(): void {
    this.due = this.next;
    this.next = new Set();
    this.recheckTimer = setTimeout(() => this.recheck(), this.rule.drainTimeoutMs);
    this.recheckTimer.unref?.();
  }

  /** The slow-consumer rule, as if a message were due now, for the sessions a write left over the limit. */
  private recheck(): void {
    this.recheckTimer = undefined;
    for (const session of this.due) {
      if (session.open && session.connection.readyState === OPEN && session.connection.backlog() > this.maxBufferedBytes) {
        this.cutOff(session);
      }
    }
    this.due = new Set();
    if (this.next.size > 0) this.armRecheck();
  }

  /** The hub's own answer to one session (acks, forbidden watch, exception). */
  reply(session: SocketSession, event: string, data: unknown): void {
    const message = this.prepare(event, data, true);
    if (message) this.write(session, message);
  }

  /** To the sockets of one user on this node that pass `filter`. */
  toUser(userId: string, filter: DeliveryFilter, message: PreparedMessage): void {
    const room = this.rooms.get(userId);
    if (!room) return;
    for (const session of room) {
      if (matchesFilter(session, message.event, filter)) this.write(session, message);
    }
  }

  /** To every socket on this node that passes `filter` (through the watch index when there is one). */
  toAll(filter: DeliveryFilter, message: PreparedMessage): void {
    if (filter === null) {
      for (const room of this.rooms.values()) for (const session of room) this.write(session, message);
      return;
    }
    for (const session of this.watches.match(message.event, filter)) this.write(session, message);
  }
}
