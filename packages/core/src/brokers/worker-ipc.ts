/**
 * The messages a {@link WorkerBroker} (in a `node:cluster` worker) and the
 * {@link WorkerRelay} (in the primary) exchange over Node's IPC channel.
 * Operations are batched: what one side queues in one turn of the event
 * loop travels as one IPC message (up to {@link IPC_BATCH_OPS} operations
 * and {@link IPC_BATCH_BYTES}), so a thousand sockets authenticating in one
 * turn cost one message, not two thousand.
 *
 * Flow control: each side writes one batch at a time once the channel's
 * own buffer is full (`send` returned false) and holds the rest until the
 * write completes. A worker also has at most {@link IPC_WINDOW_BYTES} of
 * batches at the relay that the relay has not acknowledged; the relay
 * acknowledges a batch once what it relayed from it is queued for workers
 * whose queues are not full, so a worker that out-sends a slow receiver
 * waits, and the primary's memory stays bounded.
 */

import type { DeliveryFilter } from '../routing/delivery-filter.js';
import type { RecoveryLimits } from './history.js';

/** Marks our IPC messages among whatever else the app sends over the channel. */
export const IPC_TAG = 'wshub.worker-broker';

/** Worker → primary. */
export type WorkerOp =
  | ['hello']
  /** With message recovery, a user's channel carries the highest offset the worker has seen, and when (see `RelayHistory.subscribed`). */
  | ['sub', channel: string, known?: number, at?: number]
  | ['unsub', channel: string]
  | ['pub', channel: string, data: string]
  | ['join', userId: string, user: unknown]
  | ['leave', userId: string]
  | ['query', id: number, kind: QueryKind, userId?: string]
  /** The worker's hub has message recovery on: the relay keeps the history (the first worker's limits). */
  | ['history', limits: RecoveryLimits]
  /** A message to record, number and deliver; `null` user: a broadcast; `id`: the sender's, to drop a repeat. */
  | ['rec', userId: string | null, filter: DeliveryFilter, event: string, text: string, id?: string]
  /** A resume's replay: answered with `RecordedRow[]`, or `null` when the history cannot serve it in full. */
  | ['read', id: number, userId: string, epoch: string, offset: number]
  /**
   * Before this worker admits its first socket of the user: subscribes the
   * user's channel, and is answered (`true`: no other worker holds the user)
   * once every other holder has learned it is no longer alone.
   */
  | ['claim', id: number, userId: string]
  /** The relay's `['alone', userId, false]` was applied: this worker sends to the user through the relay now. */
  | ['noted', userId: string]
  | ['bye'];

/** Primary → worker. */
export type RelayOp =
  | ['welcome']
  | ['msg', channel: string, data: string]
  | ['presence', userId: string, online: boolean]
  | ['answer', id: number, result: unknown]
  | ['ack', bytes: number]
  /** The relay's history: its epoch, and the offset a client starting now stands at. */
  | ['history', epoch: string, offset: number]
  /** A recorded message, for the worker's sockets, in offset order. */
  | ['rec', ...RecordedRow]
  /** The worker's sockets of this user may have missed a recorded message: close them for a resume. */
  | ['resume', userId: string]
  /**
   * Whether this worker is now the only one that holds the user (`false`
   * must be answered with `['noted', userId]`).
   */
  | ['alone', userId: string, alone: boolean];

/** A recorded message on the wire: offset, user (`null`: a broadcast), filter, event, frame text. */
export type RecordedRow = [offset: number, userId: string | null, filter: DeliveryFilter, event: string, text: string];

/** `users`: every online user with its plain user object; `ids`: their ids; `has`: one user online? */
export type QueryKind = 'users' | 'ids' | 'has';

export interface IpcBatch<Op> {
  [IPC_TAG]: string; // the broker prefix
  ops: Op[];
  /** The sender's estimate of the batch's size; the relay acknowledges worker batches by it. */
  bytes: number;
  /** From a relay that keeps a history: its newest offset when the batch left, so a worker's position stays fresh. */
  offset?: number;
}

export function isBatch<Op>(message: unknown, prefix: string): message is IpcBatch<Op> {
  return (
    typeof message === 'object' &&
    message !== null &&
    (message as Record<string, unknown>)[IPC_TAG] === prefix &&
    Array.isArray((message as { ops?: unknown }).ops)
  );
}

/** Most operations in one IPC message. */
export const IPC_BATCH_OPS = 1000;
/** Most bytes (about) in one IPC message: a larger one is parsed in one piece, and a huge one exhausts the heap. */
export const IPC_BATCH_BYTES = 256 * 1024;
/** Bytes a worker may have sent that the relay has not acknowledged yet. */
export const IPC_WINDOW_BYTES = 1024 * 1024;

/** About how many bytes `op` takes in an IPC message: its strings, plus a little for the rest. */
export function opBytes(op: readonly unknown[]): number {
  let bytes = 16;
  for (const part of op) bytes += typeof part === 'string' ? part.length + 3 : 64;
  return bytes;
}

/**
 * Hands a batch to the IPC channel; returns false when the channel's own
 * buffer is full, and then must call `done` once the write completed or
 * failed.
 */
export type SendBatch<Op> = (batch: IpcBatch<Op>, done: () => void) => boolean;

/**
 * The operations one side has for the other, in order. They go out as
 * batches on `process.nextTick` (after the current synchronous work,
 * before I/O), or at once when a full batch is queued; while the channel's
 * buffer is full or `canSend()` says no, they wait here, and `bytes` says
 * how much waits.
 */
export class OpQueue<Op extends readonly unknown[]> {
  /** Bytes queued and not yet handed to the channel. */
  bytes = 0;
  /** IPC messages sent. */
  batches = 0;
  private ops: Op[] = [];
  private sizes: number[] = [];
  private head = 0;
  private tailBytes = 0; // bytes of the ops not yet in a full batch
  private scheduled = false;
  private writing = false;

  constructor(
    private readonly prefix: string,
    private readonly send: SendBatch<Op>,
    private readonly canSend: () => boolean = () => true,
    /** Called after every flush, so an owner can react to `bytes` falling. */
    private readonly flushed: () => void = () => {},
    /** Stamps each batch with the sender's newest history offset, when it keeps one. */
    private readonly offset: () => number | undefined = () => undefined,
  ) {}

  get length(): number {
    return this.ops.length - this.head;
  }

  push(op: Op, bytes = opBytes(op)): void {
    this.ops.push(op);
    this.sizes.push(bytes);
    this.bytes += bytes;
    this.tailBytes += bytes;
    // A full batch goes now: an await loop never lets the next tick come.
    if (this.length >= IPC_BATCH_OPS || this.tailBytes >= IPC_BATCH_BYTES) {
      this.tailBytes = 0;
      this.flush();
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Sends what the channel and `canSend` allow now; everything when `all` (on close, when no later turn may come). */
  flush(all = false): void {
    while (this.length > 0 && (all || (!this.writing && this.canSend()))) {
      const start = this.head;
      let end = start;
      let bytes = 0;
      while (end < this.ops.length && end - start < IPC_BATCH_OPS && (bytes < IPC_BATCH_BYTES || end === start)) {
        bytes += this.sizes[end]!;
        end++;
      }
      const ops = this.ops.slice(start, end);
      this.head = end;
      this.bytes -= bytes;
      if (this.head === this.ops.length) {
        this.ops = [];
        this.sizes = [];
        this.head = 0;
        this.tailBytes = 0;
      } else if (this.head > 4096 && this.head * 2 > this.ops.length) {
        this.ops = this.ops.slice(this.head);
        this.sizes = this.sizes.slice(this.head);
        this.head = 0;
      }
      this.batches++;
      let completed = false;
      const done = () => {
        if (completed) return;
        completed = true;
        this.writing = false;
        this.flush();
      };
      this.writing = true;
      // A write the channel took at once needs no wait; a full buffer waits for `done`.
      const batch: IpcBatch<Op> = { [IPC_TAG]: this.prefix, ops, bytes };
      const offset = this.offset();
      if (offset !== undefined) batch.offset = offset;
      if (this.send(batch, done)) {
        completed = true;
        this.writing = false;
      }
    }
    this.flushed();
  }

  /** Drops everything queued (the other side is gone). */
  clear(): void {
    this.ops = [];
    this.sizes = [];
    this.head = 0;
    this.bytes = 0;
    this.tailBytes = 0;
  }
}
