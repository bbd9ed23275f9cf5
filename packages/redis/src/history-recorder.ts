import type { HistoryRecord } from '@wshub/core';
import { encodeBody } from './history-codec.js';
import type { HistoryCore } from './redis-history.js';

/** Messages per recording script call at most. */
export const RECORD_BATCH_MESSAGES = 256;
/** Body bytes (UTF-16 units) per recording script call at most; a bigger message goes alone. */
export const RECORD_BATCH_BYTES = 256 * 1024;

interface Queued {
  record: HistoryRecord;
  body: string;
}

/**
 * Records messages in batches: the records of one event-loop turn (up to
 * {@link RECORD_BATCH_MESSAGES} messages or {@link RECORD_BATCH_BYTES}) go to
 * Redis in one script call, in the order they were made, and get consecutive
 * offsets; the script publishes each, and every node delivers it when it
 * arrives. What cannot be recorded is delivered without an offset.
 */
export class HistoryRecorder {
  /** Records waiting for a script call, in the order they were made, from `head` on. */
  private queue: Queued[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** Records (and their body bytes) sent to Redis and not answered yet. */
  private inFlight = 0;
  private inFlightBytes = 0;
  /** Callers of `record` waiting for room (see {@link record}). */
  private waiters: Array<() => void> = [];
  private flushTimer: ReturnType<typeof setImmediate> | undefined;
  private closed = false;

  constructor(private readonly core: HistoryCore) {}

  /**
   * Queues the message for the next recording script call.
   *
   * Records sent and not answered yet are bounded (`recordMaxInFlight`
   * records, `recordMaxInFlightBytes` of bodies); more wait here, in order.
   * A promise is returned while the records queued and in flight are over
   * that bound: the hub's `sendMessage`/`push` wait for it, so an app
   * sending flat out goes at the pace Redis answers instead of filling memory.
   */
  record(record: HistoryRecord): Promise<void> | undefined {
    if (this.closed) return undefined;
    const body = encodeBody(record);
    this.queue.push({ record, body });
    this.queuedBytes += body.length;
    this.pump(false);
    this.flushTimer ??= setImmediate(() => {
      this.flushTimer = undefined;
      this.pump(true);
    });
    return this.over() ? new Promise<void>((resolve) => this.waiters.push(resolve)) : undefined;
  }

  /** Sends (or delivers without offsets) what is queued, whatever the bound, and lets every waiter go. */
  close(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    this.pump(true, true);
    this.closed = true;
    this.release();
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  private over(): boolean {
    const { recordMaxInFlight, recordMaxInFlightBytes } = this.core.parts.options;
    return this.inFlight + this.queued > recordMaxInFlight || this.inFlightBytes + this.queuedBytes > recordMaxInFlightBytes;
  }

  /** Lets the callers waiting for room go on, once there is. */
  private release(): void {
    if (this.waiters.length === 0 || (this.over() && !this.closed)) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Sends queued records, a batch per script call, while those in flight
   * are under the bound: full batches at once, the last partial one when
   * `all` (the turn ended, or an answer came). `force` ignores the bound
   * (closing). Delivers them without offsets when Redis is unreachable.
   */
  private pump(all: boolean, force = false): void {
    const { commands, publisher, options } = this.core.parts;
    // While the outage buffer still holds this node's earlier messages, later ones queue behind them (same order for every node).
    if (!commands.writable || publisher.held > 0) {
      if (!all && !this.over()) return; // at the end of the turn, as a batch would have been
      const queue = this.queue.slice(this.head);
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
      for (const { record } of queue) this.unrecorded(record);
      this.release();
      return;
    }
    while (this.queued > 0 && (force || (this.inFlight < options.recordMaxInFlight && this.inFlightBytes < options.recordMaxInFlightBytes))) {
      let n = 0;
      let bytes = 0;
      while (this.head + n < this.queue.length && n < RECORD_BATCH_MESSAGES) {
        const size = this.queue[this.head + n]!.body.length;
        if (n > 0 && bytes + size > RECORD_BATCH_BYTES) break;
        bytes += size;
        n++;
      }
      if (!all && n === this.queued && n < RECORD_BATCH_MESSAGES && (n === 0 || bytes < RECORD_BATCH_BYTES)) break; // more may join this turn
      const batch = this.queue.slice(this.head, this.head + n);
      this.head += n;
      this.queuedBytes -= bytes;
      // Compacted now and then, not per batch: a long queue is not copied for every call.
      if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.send(batch, bytes);
    }
    if (this.queued === 0) {
      this.queue = [];
      this.head = 0;
    }
  }

  /** One script call for `batch`. One that Redis does not answer within `commandTimeoutMs` counts as failed and frees its room. */
  private send(batch: Queued[], bytes: number): void {
    const { core } = this;
    const { seq, epoch, tick, clock, all } = core.keys;
    const { broker } = core.parts;
    const keys = [seq, epoch, tick, clock];
    const args = [core.candidate, String(core.limits.maxMessages), String(core.limits.ttlMs)];
    for (const { record, body } of batch) {
      const forAll = record.userId === undefined;
      keys.push(forAll ? all : core.userStream(record.userId!), forAll ? broker.broadcastChannel : broker.userChannel(record.userId!));
      args.push(body, forAll ? 'a' : 'u');
    }
    this.inFlight += batch.length;
    this.inFlightBytes += bytes;
    const done = () => {
      this.inFlight -= batch.length;
      this.inFlightBytes -= bytes;
      if (!this.closed) this.pump(true);
      this.release();
    };
    core.parts.commands.timed(core.scripts.wshubHistoryRecord(String(keys.length), ...keys, ...args), 'a recording').then(
      ([, named]) => {
        core.counters.recorded += batch.length;
        core.adopt(named);
        done();
      },
      (error: Error) => {
        // It may or may not have run: never sent again (at most once), but no resume may claim to cover it.
        core.counters.recordFailed += batch.length;
        core.lost();
        core.parts.reporter.report('history', new Error(`wshub: recording ${batch.length} message(s) in the Redis history failed: ${error.message}`));
        done();
      },
    );
  }

  /** A message that could not be recorded: delivered here and sent to the other nodes without an offset, as without recovery. */
  private unrecorded(record: HistoryRecord): void {
    const { core } = this;
    const { node, broker } = core.parts;
    core.counters.unrecorded++;
    core.lost();
    node.deliverRecorded({ ...record, offset: undefined });
    // As it goes without recovery, with the sender's traceparent.
    const { userId, filter, event, text, tp } = record;
    const trace = tp === undefined ? {} : { tp };
    if (userId === undefined) broker.publishToAll({ kind: 'push', event, filter, message: text, ...trace });
    else broker.publishToUser(userId, { kind: 'send', userId, event, filter, message: text, ...trace });
  }
}
