import { randomBytes } from 'node:crypto';
import type { BrokerNode, ClusterBroker, HistoryEntry, HistoryRecord, MessageHistory, Position, RecoveryLimits } from '@wshub/core';
import { MAX_ENVELOPE_BYTES } from '@wshub/core';
import type { CommandConnection } from './command-connection.js';
import { decodeRecorded } from './history-codec.js';
import { ConfirmWaits } from './confirm-waits.js';
import { GapTracker } from './history-gaps.js';
import { readHistory } from './history-reader.js';
import { HistoryRecorder, type QueuedRecord, type RecordWriter, type WriteResult } from './history-recorder.js';
import { type HistoryScripts, historyScripts } from './history-scripts.js';
import type { ResolvedRedisBrokerOptions } from './options.js';
import type { OutagePublisher } from './outage-publisher.js';
import type { Subscriber } from './subscriber.js';
import type { ThrottledReporter } from './throttled-reporter.js';

/** The parts of a {@link RedisBroker} its history works with. */
export interface HistoryParts {
  /** Channel names, and the publishes of what could not be recorded. */
  broker: Pick<ClusterBroker, 'prefix' | 'broadcastChannel' | 'userChannel' | 'publishToUser' | 'publishToAll'>;
  node: BrokerNode;
  commands: CommandConnection;
  subscriber: Pick<Subscriber, 'isConfirmed' | 'confirmedCount' | 'wantedCount'>;
  /** While it holds messages, later ones are not recorded (they would overtake them). */
  publisher: Pick<OutagePublisher, 'held'>;
  reporter: ThrottledReporter;
  options: Pick<ResolvedRedisBrokerOptions, 'bufferFlushDelayMs' | 'bufferMaxAgeMs' | 'recordMaxInFlight' | 'recordMaxInFlightBytes'>;
}

/** Key names of a history on one Redis. */
export interface HistoryKeys {
  seq: string;
  epoch: string;
  tick: string;
  clock: string;
  lost: string;
  all: string;
}

/** What the recorder, the reader and the gap tracker share: the history's state and its parts. */
export interface HistoryCore {
  readonly parts: HistoryParts;
  readonly limits: RecoveryLimits;
  readonly keys: HistoryKeys;
  readonly scripts: HistoryScripts;
  readonly counters: RedisHistory['counters'];
  /** Empty until Redis named it. */
  readonly epoch: string;
  /** Highest offset this node delivered (or the sequence when it started). */
  readonly delivered: number;
  /** Messages went unrecorded and the mark in Redis is not written yet: no read may claim to cover them. */
  readonly unmarked: boolean;
  readonly closed: boolean;
  /** Resumes waiting for their channels. */
  readonly waits: ConfirmWaits;
  /** The epoch this node proposes when Redis has none. */
  readonly candidate: string;
  userStream(userId: string): string;
  /** The user whose channel `channel` is; `undefined` for any other channel. */
  userOfChannel(channel: string): string | undefined;
}

/** What a {@link RedisBroker} calls on its history, on one Redis or on a cluster. */
export interface BrokerHistory extends MessageHistory {
  readonly counters: { recorded: number; unrecorded: number; recordFailed: number; resumeForced: number };
  /** A publication on `channel`, one of this node's: true when it was the history's (a recorded message, then delivered by the history, or a published lost mark). */
  receive(data: string | Buffer, channel?: string): boolean;
  /** A subscriber connection is gone, or `channels` moved: what was published on them meanwhile did not arrive. */
  subscriberDown(channels: string[]): void;
  /** Redis confirmed `channels` on a subscriber connection. */
  confirmed(channels: string[]): void;
  /** The command connection is ready (again). */
  connectionUp(): void;
  /** This node's last socket of `userId` closed. */
  userLeft?(userId: string): void;
  /** Bytes of records queued and in flight (the broker refuses sends past `maxQueuedBytes`). */
  readonly pendingBytes: number;
}

/**
 * The shared message history of a {@link RedisBroker} on one Redis: a stream
 * per user (`<prefix>:h:user:<userId>`) and one for broadcasts
 * (`<prefix>:h:all`), offsets from one sequence (`<prefix>:h:seq`), the
 * epoch in `<prefix>:h:epoch`. Recording and publishing are one script
 * ({@link HistoryRecorder}), and every node — this one too — delivers what
 * arrives on its channels through `deliverRecorded`, in the order Redis
 * published it, which is offset order. A resume reads the streams
 * ({@link readHistory}); a node whose subscriber was gone closes the sockets
 * that may have missed something ({@link GapTracker}).
 *
 * What could not be recorded (Redis unreachable, a failed script) is
 * delivered without an offset as before, and once Redis answers again the
 * offsets up to then are marked lost (`<prefix>:h:lost`), so a resume from
 * before that point answers `failed` rather than leave a hole.
 */
export class RedisHistory implements BrokerHistory, HistoryCore, RecordWriter {
  /** Empty until Redis named the epoch: a resume with it always fails. */
  epoch = '';
  /** Resolved (and dropped) once the epoch is known; see {@link positionKnown}. */
  private known: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Highest offset this node delivered (or the sequence when it started): where a client starting now stands. */
  delivered = 0;
  private loaded = false;
  unmarked = false;
  private markTimer: ReturnType<typeof setTimeout> | undefined;
  closed = false;
  /**
   * The epoch this node proposes when Redis has none. Replaced once it was
   * taken and on every reconnect, so a Redis that restarted empty never gets
   * an epoch it had before.
   */
  candidate = randomBytes(8).toString('hex');
  readonly keys: HistoryKeys;
  readonly counters = { recorded: 0, unrecorded: 0, recordFailed: 0, resumeForced: 0 };
  private readonly recorder: HistoryRecorder;
  private readonly gaps: GapTracker;
  private readonly userPrefix: string;
  readonly waits: ConfirmWaits;

  constructor(
    readonly parts: HistoryParts,
    readonly limits: RecoveryLimits,
  ) {
    const p = `${parts.broker.prefix}:h`;
    this.keys = { seq: `${p}:seq`, epoch: `${p}:epoch`, tick: `${p}:tick`, clock: `${p}:clock`, lost: `${p}:lost`, all: `${p}:all` };
    this.userPrefix = parts.broker.userChannel('');
    this.waits = new ConfirmWaits((channel) => parts.subscriber.isConfirmed(channel));
    historyScripts(parts.commands.redis);
    this.recorder = new HistoryRecorder(this);
    this.gaps = new GapTracker(this);
  }

  get broker(): HistoryParts['broker'] {
    return this.parts.broker;
  }

  get node(): BrokerNode {
    return this.parts.node;
  }

  get reporter(): ThrottledReporter {
    return this.parts.reporter;
  }

  get options(): HistoryParts['options'] {
    return this.parts.options;
  }

  get scripts(): HistoryScripts {
    return historyScripts(this.parts.commands.redis);
  }

  userStream(userId: string): string {
    return `${this.parts.broker.prefix}:h:user:${userId}`;
  }

  get broadcastStream(): string {
    return this.keys.all;
  }

  userOfChannel(channel: string): string | undefined {
    return channel.startsWith(this.userPrefix) ? channel.slice(this.userPrefix.length) : undefined;
  }

  position(): Position {
    return { epoch: this.epoch, offset: this.delivered };
  }

  /**
   * Resolves once Redis named the epoch: a few ms after the node started,
   * or once Redis is reachable. The hub holds welcomes until then.
   */
  positionKnown(): Promise<void> {
    if (this.epoch) return Promise.resolve();
    if (!this.known) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.known = { promise, resolve };
    }
    return this.known.promise;
  }

  private setEpoch(epoch: string): void {
    this.epoch = epoch;
    if (epoch && this.known) {
      this.known.resolve();
      this.known = undefined;
    }
  }

  /** See {@link HistoryRecorder.record}. */
  record(record: HistoryRecord): Promise<void> | undefined {
    return this.recorder.record(record);
  }

  get pendingBytes(): number {
    return this.recorder.pendingBytes;
  }

  /**
   * A recorded message on one of this node's channels (`r<offset>:<epoch>:<header>\n<text>`),
   * delivered with its offset. Returns false for anything that is not one.
   */
  receive(data: string | Buffer): boolean {
    if (data.length === 0 || data[0] !== (typeof data === 'string' ? 'r' : 0x72)) return false;
    if (data.length > MAX_ENVELOPE_BYTES) return false;
    const message = decodeRecorded(typeof data === 'string' ? data : data.toString('utf8'));
    if (!message) return false;
    if (message.offset > this.delivered) this.delivered = message.offset;
    this.gaps.received(message.offset);
    this.adopt(message.epoch);
    this.parts.node.deliverRecorded(message.recorded);
    return true;
  }

  read(userId: string, from: Position): Promise<HistoryEntry[] | undefined> {
    return readHistory(this, userId, from);
  }

  /** See {@link GapTracker.down}. */
  subscriberDown(_channels: string[]): void {
    this.gaps.down();
  }

  /** See {@link GapTracker.confirmed}. */
  confirmed(channels: string[]): void {
    this.waits.confirmed(channels);
    this.gaps.confirmed(channels);
  }

  /** The command connection is ready (again): learn the epoch; write the mark for what went unrecorded. */
  connectionUp(): void {
    if (this.closed) return;
    this.candidate = randomBytes(8).toString('hex');
    if (!this.loaded) {
      const { seq, epoch } = this.keys;
      this.scripts.wshubHistoryLoad(seq, epoch, this.candidate).then(
        ([named, offset]) => {
          if (this.loaded) return;
          this.loaded = true;
          if (!this.epoch) this.setEpoch(named);
          if (named === this.candidate) this.candidate = randomBytes(8).toString('hex');
          if (this.delivered === 0) this.delivered = Number(offset);
        },
        (error: Error) => this.parts.reporter.report('history', new Error(`wshub: reading the Redis history epoch failed: ${error.message}`)),
      );
    }
    if (this.unmarked) this.scheduleMark();
  }

  /** While the outage buffer still holds this node's earlier messages, later ones queue behind them (same order for every node). */
  writable(): boolean {
    return this.parts.commands.writable && this.parts.publisher.held === 0;
  }

  /**
   * One script call for `batch`: offsets from the one sequence, consecutive
   * in the batch's order, each message published in that order; one whose
   * id its history holds already is dropped there.
   */
  write(batch: QueuedRecord[]): Promise<WriteResult> {
    const { seq, epoch, tick, clock, all } = this.keys;
    const { broker, commands } = this.parts;
    const keys = [seq, epoch, tick, clock];
    const args = [this.candidate, String(this.limits.maxMessages), String(this.limits.ttlMs)];
    for (const { record, body } of batch) {
      const forAll = record.userId === undefined;
      const stream = forAll ? all : this.userStream(record.userId!);
      // The stream's set of the senders' ids, which drops a repeat sent through another node.
      keys.push(stream, forAll ? broker.broadcastChannel : broker.userChannel(record.userId!), `${stream}:ids`);
      args.push(body, forAll ? 'a' : 'u', record.id ?? '');
    }
    return commands.timed(this.scripts.wshubHistoryRecord(String(keys.length), ...keys, ...args), 'a recording').then(
      ([, named]): WriteResult => {
        this.adopt(named);
        return { unsent: [], failed: [] };
      },
      (error: Error): WriteResult => ({ unsent: [], failed: batch, error }),
    );
  }

  /** Redis named the epoch (in a recording's answer or a publication). */
  adopt(epoch: string): void {
    this.setEpoch(epoch);
    if (epoch === this.candidate) this.candidate = randomBytes(8).toString('hex');
  }

  close(): void {
    this.recorder.close(); // what was recorded before the hub closed is sent (or delivered without offsets)
    this.closed = true;
    clearTimeout(this.markTimer);
    this.waits.close();
  }

  /** Something this node delivered could not be recorded: reads from before now must fail (one mark for the whole history). */
  lost(_records?: HistoryRecord[]): void {
    if (this.unmarked) return;
    this.unmarked = true;
    if (this.parts.commands.writable) this.scheduleMark();
  }

  /**
   * Writes the mark after the outage buffer was sent (what it held reaches
   * clients without offsets, so a resume must not claim it either).
   */
  private scheduleMark(): void {
    if (this.markTimer || this.closed) return;
    const { commands, reporter, options } = this.parts;
    this.markTimer = setTimeout(() => {
      this.markTimer = undefined;
      if (this.closed || !commands.writable) return;
      this.scripts.wshubHistoryMarkLost(this.keys.seq, this.keys.lost).then(
        () => {
          this.unmarked = false;
        },
        (error: Error) => {
          reporter.report('history', new Error(`wshub: marking lost history in Redis failed: ${error.message}`));
          if (commands.writable) this.scheduleMark();
        },
      );
    }, options.bufferFlushDelayMs + 100);
    this.markTimer.unref();
  }
}
