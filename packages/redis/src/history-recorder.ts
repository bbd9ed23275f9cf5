import type { BrokerNode, ClusterBroker, HistoryRecord } from '@wshub/core';
import { encodeBody } from './history-codec.js';
import type { ResolvedRedisBrokerOptions } from './options.js';
import type { ThrottledReporter } from './throttled-reporter.js';

/** Messages per recording script call at most. */
export const RECORD_BATCH_MESSAGES = 256;
/** Body bytes (UTF-16 units) per recording script call at most; a bigger message goes alone. */
export const RECORD_BATCH_BYTES = 256 * 1024;

/** A record waiting for a script call, with the body the script stores and publishes. */
export interface QueuedRecord {
  readonly record: HistoryRecord;
  readonly body: string;
}

/** What came of one {@link RecordWriter.write}. */
export interface WriteResult {
  /** Records not sent (their shard is away): delivered without offsets. */
  unsent: QueuedRecord[];
  /** Records whose call failed: they may or may not have been recorded. */
  failed: QueuedRecord[];
  error?: Error;
}

/** Where a recorder's batches go (one Redis, or the masters of a cluster), and what it tells its history. */
export interface RecordWriter {
  readonly broker: Pick<ClusterBroker, 'publishToUser' | 'publishToAll'>;
  readonly node: BrokerNode;
  readonly reporter: ThrottledReporter;
  readonly options: Pick<ResolvedRedisBrokerOptions, 'recordMaxInFlight' | 'recordMaxInFlightBytes'>;
  readonly counters: { recorded: number; unrecorded: number; recordFailed: number };
  /** False while nothing can be recorded now: records are delivered without offsets. */
  writable(): boolean;
  /** Records a batch, in its order, and has each message published. Never rejects. */
  write(batch: QueuedRecord[]): Promise<WriteResult>;
  /**
   * These records were delivered without being recorded (or may not have
   * been): no read may claim to cover them. `failed`: their recording failed,
   * so they may have reached nobody.
   */
  lost(records: HistoryRecord[], failed?: boolean): void;
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
  private queue: QueuedRecord[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** Records (and their body bytes) sent to Redis and not answered yet. */
  private inFlight = 0;
  private inFlightBytes = 0;
  /** Callers of `record` waiting for room (see {@link record}). */
  private waiters: Array<() => void> = [];
  private flushTimer: ReturnType<typeof setImmediate> | undefined;
  private closed = false;

  constructor(private readonly writer: RecordWriter) {}

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

  /** Bytes (UTF-16 units of bodies) of the records queued here and in flight: what maxQueuedBytes bounds. */
  get pendingBytes(): number {
    return this.queuedBytes + this.inFlightBytes;
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  private over(): boolean {
    const { recordMaxInFlight, recordMaxInFlightBytes } = this.writer.options;
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
    const { options } = this.writer;
    if (!this.writer.writable()) {
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

  /** One script call for `batch` (one per slot on a cluster). One that Redis does not answer within `commandTimeoutMs` counts as failed and frees its room. */
  private send(batch: QueuedRecord[], bytes: number): void {
    const { writer } = this;
    this.inFlight += batch.length;
    this.inFlightBytes += bytes;
    void writer.write(batch).then(({ unsent, failed, error }) => {
      writer.counters.recorded += batch.length - unsent.length - failed.length;
      for (const { record } of unsent) this.unrecorded(record);
      if (failed.length > 0) {
        // It may or may not have run: never sent again (at most once), but no resume may claim to cover it.
        writer.counters.recordFailed += failed.length;
        writer.lost(failed.map((q) => q.record), true);
        writer.reporter.report('history', new Error(`wshub: recording ${failed.length} message(s) in the Redis history failed: ${error?.message}`));
      }
      this.inFlight -= batch.length;
      this.inFlightBytes -= bytes;
      if (!this.closed) this.pump(true);
      this.release();
    });
  }

  /** A message that could not be recorded: delivered here and sent to the other nodes without an offset, as without recovery. */
  private unrecorded(record: HistoryRecord): void {
    const { node, broker, counters } = this.writer;
    counters.unrecorded++;
    this.writer.lost([record]);
    node.deliverRecorded({ ...record, offset: undefined });
    // As it goes without recovery, with the sender's traceparent.
    const { userId, filter, event, text, tp } = record;
    const trace = tp === undefined ? {} : { tp };
    if (userId === undefined) broker.publishToAll({ kind: 'push', event, filter, message: text, ...trace });
    else broker.publishToUser(userId, { kind: 'send', userId, event, filter, message: text, ...trace });
  }
}
