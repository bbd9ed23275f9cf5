import { randomBytes } from 'node:crypto';
import type { HistoryEntry, HistoryRecord, Position, RecoveryLimits } from '@wshub/core';
import type { Redis } from 'ioredis';
import { MAX_ENVELOPE_BYTES } from '@wshub/core';
import { type ClusterHistoryKeys, clusterHistoryKeys } from './cluster-history-keys.js';
import { type ClusterHistoryScripts, clusterHistoryScripts } from './cluster-history-scripts.js';
import { ClusterLostMarks } from './cluster-lost-marks.js';
import { ConfirmWaits } from './confirm-waits.js';
import { decodeRecorded, toEntry } from './history-codec.js';
import { HistoryRecorder, type QueuedRecord, type RecordWriter, type WriteResult } from './history-recorder.js';
import type { OutagePublisher } from './outage-publisher.js';
import { type Numbered, type OrderHost, RecordedOrder } from './recorded-order.js';
import type { BrokerHistory, HistoryParts } from './redis-history.js';
import { RedisUnavailableError } from './redis-unavailable-error.js';
import type { ShardRoutes } from './shard-routes.js';

/** A resume waits for its channels at least this long (or `commandTimeoutMs`), in ms. */
const SUBSCRIBE_WAIT_MS = 5000;
/** How often records wait for a slot that is away or settling, after the first 100 ms, in ms. */
const LANE_POLL_MS = 50;
/** How often records check whether a slot that is away or settling takes them again, the first 20 times, in ms. */
const LANE_FIRST_POLL_MS = 5;

/** The parts of a cluster history besides those of one on one Redis. */
export interface ClusterHistoryParts extends HistoryParts {
  publisher: Pick<OutagePublisher, 'held' | 'heldIn'>;
  routes: Pick<ShardRoutes, 'open' | 'opening' | 'master'>;
  /** How long a recorded message waits at a node so messages of two shards leave in offset order. */
  orderWindowMs: number;
}

/**
 * The message history of a {@link RedisBroker} on Redis Cluster. Each user
 * has a history in the slot of its channel, the broadcasts have one in the
 * slot of theirs (see `cluster-history-scripts.ts` for the offsets, the
 * owner check and the lost marks); a message is recorded and SPUBLISHed by
 * one script on the master of that slot, written straight to its
 * connection (never redirected or retried, so never after a newer one).
 *
 * A client's position stays one `{ epoch, offset }`: the epoch is the
 * cluster's (a key in the broadcasts' slot), the offset the last one it got
 * from either history; offsets of both follow one clock, and each node
 * delivers them in offset order ({@link RecordedOrder}). A resume reads both
 * histories after the offset. Whatever cannot be served whole — a history
 * whose master changed (its last writes may be gone), messages delivered
 * unrecorded or out of order, a position older than `ttlMs` — answers
 * `failed`.
 */
export class ClusterHistory implements BrokerHistory, RecordWriter, OrderHost {
  private epoch = '';
  private known: { promise: Promise<void>; resolve: () => void } | undefined;
  private loading = false;
  private closed = false;
  private readonly order: RecordedOrder;
  private readonly recorder: HistoryRecorder;
  private readonly all: ClusterHistoryKeys;
  private readonly epochKey: string;
  private readonly marks: ClusterLostMarks;
  /** A master connection → the run id of the Redis process behind it. */
  private readonly runIds = new WeakMap<Redis, Promise<string>>();
  /** Per slot, its last script call: the next one of the slot starts when it is answered. */
  private readonly slotWrites = new Map<number, Promise<void>>();
  /** Users of this node whose resume gave up waiting for their channels (see {@link confirmed}). */
  private readonly unconfirmed = new Set<string>();
  /** Resumes waiting for their channels. */
  private readonly waits: ConfirmWaits;
  readonly counters = { recorded: 0, unrecorded: 0, recordFailed: 0, resumeForced: 0, outOfOrder: 0 };
  private readonly userPrefix: string;

  constructor(
    readonly parts: ClusterHistoryParts,
    readonly limits: RecoveryLimits,
  ) {
    this.all = clusterHistoryKeys(parts.broker.broadcastChannel);
    this.epochKey = `${this.all.stream}:epoch`;
    this.userPrefix = parts.broker.userChannel('');
    this.order = new RecordedOrder(this, parts.orderWindowMs, 0);
    this.marks = new ClusterLostMarks(parts, limits.ttlMs, this.all.channel);
    this.recorder = new HistoryRecorder(this);
    this.waits = new ConfirmWaits((channel) => parts.subscriber.isConfirmed(channel));
  }

  get broker(): HistoryParts['broker'] {
    return this.parts.broker;
  }

  get node(): HistoryParts['node'] {
    return this.parts.node;
  }

  get reporter(): HistoryParts['reporter'] {
    return this.parts.reporter;
  }

  get options(): HistoryParts['options'] {
    return this.parts.options;
  }

  private get scripts(): ClusterHistoryScripts {
    return clusterHistoryScripts(this.parts.commands.redis);
  }

  private keysOf(userId: string | undefined): ClusterHistoryKeys {
    return userId === undefined ? this.all : clusterHistoryKeys(this.parts.broker.userChannel(userId));
  }

  position(): Position {
    return { epoch: this.epoch, offset: this.order.floor };
  }

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

  record(record: HistoryRecord): Promise<void> | undefined {
    return this.recorder.record(record);
  }

  get pendingBytes(): number {
    return this.recorder.pendingBytes;
  }

  // ------------------------------------------------------------ recording

  /** Records go as long as the cluster client is up; a slot that is away or holds earlier publishes is checked per record. */
  writable(): boolean {
    return this.parts.commands.writable;
  }

  /**
   * Records `batch`: one script call per run of consecutive records of one
   * slot, on that slot's master. A slot's calls go one after the other, in
   * the order the records were made, so a history's offsets follow its
   * messages' order; calls of different slots run side by side.
   */
  async write(batch: QueuedRecord[]): Promise<WriteResult> {
    const result: WriteResult = { unsent: [], failed: [] };
    const runs: Array<Promise<void>> = [];
    for (let i = 0; i < batch.length; ) {
      const slot = this.keysOf(batch[i]!.record.userId).slot;
      const run: Array<{ queued: QueuedRecord; keys: ClusterHistoryKeys }> = [];
      for (; i < batch.length; i++) {
        const keys = this.keysOf(batch[i]!.record.userId);
        if (keys.slot !== slot) break;
        run.push({ queued: batch[i]!, keys });
      }
      const done = (this.slotWrites.get(slot) ?? Promise.resolve()).then(() => this.writeRun(slot, run, result));
      this.slotWrites.set(slot, done);
      runs.push(
        done.then(() => {
          if (this.slotWrites.get(slot) === done) this.slotWrites.delete(slot);
        }),
      );
    }
    await Promise.all(runs);
    return result;
  }

  /** The run id of the Redis process behind `redis`: read once per connection (a new process is a new connection). */
  private runIdOf(redis: Redis): Promise<string> {
    let known = this.runIds.get(redis);
    if (!known) {
      known = this.parts.commands.timed(redis.info('server'), 'INFO').then((info) => {
        const id = /run_id:(\w+)/.exec(info)?.[1];
        if (!id) throw new Error('INFO server named no run_id');
        return id;
      });
      known.catch(() => this.runIds.delete(redis));
      this.runIds.set(redis, known);
      const forget = () => this.runIds.delete(redis);
      redis.once('close', forget);
    }
    return known;
  }

  private async writeRun(slot: number, records: Array<{ queued: QueuedRecord; keys: ClusterHistoryKeys }>, result: WriteResult): Promise<void> {
    const { routes, commands } = this.parts;
    const redis = (await this.opened(slot)) ? routes.master(slot) : undefined;
    if (!redis) {
      for (const { queued } of records) result.unsent.push(queued);
      return;
    }
    const keys: string[] = [];
    let run: string;
    try {
      run = await this.runIdOf(redis);
    } catch (error) {
      for (const { queued } of records) result.failed.push(queued);
      result.error = error as Error;
      return;
    }
    const args = [this.epoch, String(this.limits.maxMessages), String(this.limits.ttlMs), String(this.order.highest), run, this.all.channel];
    for (const { queued, keys: k } of records) {
      keys.push(k.stream, k.seq, k.own, k.lost, k.channel, k.ids);
      args.push(queued.body, queued.record.id ?? '');
    }
    try {
      await commands.timed(clusterHistoryScripts(redis).wshubClusterRecord(String(keys.length), ...keys, ...args), 'a recording');
    } catch (error) {
      for (const { queued } of records) result.failed.push(queued);
      result.error = error as Error;
    }
  }

  /**
   * True once `slot` takes records: its master's connection is ready, the
   * master settled, and the slot's outage lane holds nothing. Until then the
   * slot's records wait (the slot's later ones behind them), at most
   * `bufferMaxAgeMs`: recorded late, they still get offsets in order, and a
   * resume reads them. Past that they go without offsets.
   */
  private async opened(slot: number): Promise<boolean> {
    const { routes, publisher, options } = this.parts;
    const deadline = Date.now() + options.bufferMaxAgeMs;
    for (let polls = 0; ; polls++) {
      if (routes.open(slot) && publisher.heldIn(slot) === 0) return true; // `open` also starts the connection
      if (Date.now() > deadline || this.closed) return false;
      await new Promise((resolve) => setTimeout(resolve, polls < 20 ? LANE_FIRST_POLL_MS : LANE_POLL_MS));
    }
  }

  /**
   * Marks the histories of `records` lost once their slots take writes: a
   * resume from before then fails. A recording that failed (`failed`) may
   * have reached nobody: its mark is published too, and every node closes
   * the recipients' sockets for such a resume (see {@link receive}).
   */
  lost(records: HistoryRecord[], failed = false): void {
    for (const { userId } of records) this.markLater(userId, this.order.highest, failed);
  }

  private markLater(userId: string | undefined, floor: number, notify = false): void {
    this.marks.add(userId === undefined ? this.all.channel : this.parts.broker.userChannel(userId), floor, notify);
  }

  // ------------------------------------------------------------- delivery

  /**
   * A recorded message on one of this node's channels: delivered in offset
   * order, after `orderWindowMs`. A published lost mark (`l<mark>`: a
   * recording of that history failed, its message may have reached nobody)
   * stops delivery to the recipients' sockets here, marks their history
   * above what this node delivered at once, and closes them once that mark
   * is written (see {@link closeMarked}); this node answers their resumes
   * `failed` until then.
   */
  receive(data: string | Buffer, channel?: string): boolean {
    if (data.length === 0) return false;
    if (data[0] === (typeof data === 'string' ? 'l' : 0x6c) && channel !== undefined && data.length < 32) {
      if (channel !== this.all.channel && !channel.startsWith(this.userPrefix)) return false;
      const userId = channel === this.all.channel ? undefined : channel.slice(this.userPrefix.length);
      if (this.closed) return true;
      this.counters.resumeForced++;
      this.closeMarked(userId, this.order.highest);
      return true;
    }
    if (data[0] !== (typeof data === 'string' ? 'r' : 0x72)) return false;
    if (data.length > MAX_ENVELOPE_BYTES) return false;
    const message = decodeRecorded(typeof data === 'string' ? data : data.toString('utf8'));
    if (!message) return false;
    if (!this.closed) this.order.add(message.recorded as Numbered);
    return true;
  }

  deliver(message: Numbered): void {
    this.parts.node.deliverRecorded(message);
  }

  /** The recipients' sockets close for a resume, and their history is marked so that resume fails. */
  outOfOrder(userId: string | undefined, floor: number): void {
    this.counters.outOfOrder++;
    this.counters.resumeForced++;
    this.closeMarked(userId, floor);
  }

  /**
   * The sockets of `userId` here (every user's, when `undefined`) may lack a
   * message below `floor`: they get nothing more from now on, their history
   * is marked lost above `floor` at once (its slot taking writes), and they
   * close for a resume once the mark is written — so their resume answers
   * `failed` on every node, not only here. Their close waits at most
   * `commandTimeoutMs` (for the slot to take writes, after its outage lane,
   * and for the mark's call): past it, or when the call failed, they close
   * and the mark is written later (see {@link ClusterLostMarks}); a resume
   * on another node before that is then not told.
   */
  private closeMarked(userId: string | undefined, floor: number): void {
    const written = this.marks.now(userId === undefined ? this.all.channel : this.parts.broker.userChannel(userId), floor);
    this.parts.node.closeForResume(userId, written);
  }

  /**
   * A subscriber connection is gone, or `channels` moved to another master:
   * what was published on them meanwhile never reached this node. Their
   * users' sockets (every user's, for the broadcasts' channel) close now,
   * before anything newer reaches them; their clients resume once the
   * channels are subscribed again, from what the histories hold.
   */
  subscriberDown(channels: string[]): void {
    if (this.closed) return;
    for (const channel of channels) {
      if (channel === this.all.channel) {
        this.counters.resumeForced++;
        this.parts.node.closeForResume(undefined);
        return;
      }
    }
    for (const channel of channels) {
      if (!channel.startsWith(this.userPrefix)) continue;
      this.counters.resumeForced++;
      this.parts.node.closeForResume(channel.slice(this.userPrefix.length));
    }
  }

  /**
   * Redis confirmed `channels`. A user whose resume here gave up waiting for
   * its channels was answered `failed` before them: what was published
   * until now never reached this node, so the user's sockets close for
   * another resume, which now reads it.
   */
  confirmed(channels: string[]): void {
    this.waits.confirmed(channels);
    if (this.unconfirmed.size === 0 || this.closed) return;
    const { broker, subscriber, node } = this.parts;
    const all = channels.includes(this.all.channel);
    for (const userId of [...this.unconfirmed]) {
      const channel = broker.userChannel(userId);
      if (!all && !channels.includes(channel)) continue;
      if (!subscriber.isConfirmed(channel) || !subscriber.isConfirmed(this.all.channel)) continue;
      this.unconfirmed.delete(userId);
      this.counters.resumeForced++;
      node.closeForResume(userId);
    }
  }

  userLeft(userId: string): void {
    this.order.forget(userId);
    this.unconfirmed.delete(userId);
  }

  // --------------------------------------------------------------- resume

  /**
   * What `userId` missed after `from`: both histories read after it (one
   * script per shard), merged in offset order. Each read also returns its
   * bound: every offset its history gives later is above it. The two reads
   * run at two moments on two shards whose sequences are apart (each
   * history's offsets follow its own sequence and its master's clock), so
   * one history may return entries numbered above the other's bound: the
   * client's position after the replay would then be above offsets that
   * other history gives later, and the client would drop them as already
   * handled when they arrive live — a silent gap. So every history whose
   * bound is below the replay's top (or below what this node delivered) is
   * read again after its bound, with its sequence raised to that top in the
   * same script, until every bound is at the top: the replay then holds
   * every entry of both histories recorded before their last read, whatever
   * its offset, and every later one is numbered above the answer and arrives
   * live (the channels were confirmed before the first read).
   */
  async read(userId: string, from: Position): Promise<HistoryEntry[] | undefined> {
    if (!this.epoch || from.epoch !== this.epoch) return undefined;
    const floor = this.order.floor;
    const mine = this.keysOf(userId);
    const { commands } = this.parts;
    // Whatever the answer, live messages after it must reach this node: the channels first (a failover takes seconds).
    if (!(await this.waits.until([mine.channel, this.all.channel], Math.max(commands.timeoutMs, SUBSCRIBE_WAIT_MS)))) {
      if (this.closed) return undefined;
      // Answered failed; once the channels are confirmed, the user's sockets close for another resume (see `confirmed`).
      this.unconfirmed.add(userId);
      throw new RedisUnavailableError(`wshub: the channels of user "${userId}" were not subscribed in time for a resume`);
    }
    // This node delivered something of these histories unrecorded or out of order, and the mark is not written yet.
    if (this.marks.has(mine.channel) || this.marks.has(this.all.channel)) return undefined;
    const unavailable = commands.unavailable();
    if (unavailable) throw unavailable;
    const ttl = String(this.limits.ttlMs);
    const all = this.all;
    const histories = [
      { forUser: userId as string | undefined, keys: ['4', mine.stream, mine.seq, mine.own, mine.lost] },
      { forUser: undefined, keys: ['5', all.stream, all.seq, all.own, all.lost, this.epochKey] },
    ].map(({ forUser, keys }) => ({
      forUser,
      read: (after: number, raise: number) =>
        commands.timed(this.scripts.wshubClusterRead(...keys, String(after), ttl, from.epoch, String(raise)), 'a history read'),
      entries: [] as HistoryEntry[],
      bound: from.offset,
    }));
    // The top the answer's offset will be: at least the broadcast this node delivered last (taken by the hub before this read).
    let top = floor;
    let behind = histories;
    for (let round = 0; behind.length > 0; round++) {
      // Each round raises the top only by entries recorded since the last: past a few, the histories move too fast to settle.
      if (round === 4) return undefined;
      const raise = top;
      const answers = await Promise.all(behind.map((h) => h.read(h.bound, raise)));
      for (const [i, answer] of answers.entries()) {
        if (answer[0] !== 1) return undefined;
        const h = behind[i]!;
        for (const [id, fields] of answer[1]) {
          const entry = toEntry(id, fields, h.forUser);
          if (!entry) return undefined;
          h.entries.push(entry);
          top = Math.max(top, entry.offset);
        }
        h.bound = Number(answer[2]);
      }
      behind = histories.filter((h) => h.bound < top);
    }
    return histories.flatMap((h) => h.entries).sort((a, b) => a.offset - b.offset);
  }

  // ------------------------------------------------------------ lifecycle

  /** The cluster client is ready (again): learn the epoch; write the marks still pending. */
  connectionUp(): void {
    if (this.closed) return;
    if (!this.epoch && !this.loading) {
      this.loading = true;
      this.scripts.wshubClusterEpoch(this.epochKey, randomBytes(8).toString('hex')).then(
        ([epoch, now]) => {
          this.loading = false;
          if (this.epoch) return;
          this.order.start(Number(now));
          this.epoch = epoch;
          this.known?.resolve();
          this.known = undefined;
        },
        (error: Error) => {
          this.loading = false;
          this.parts.reporter.report('history', new Error(`wshub: reading the Redis history epoch failed: ${error.message}`));
        },
      );
    }
    this.marks.schedule();
  }

  close(): void {
    this.recorder.close();
    this.closed = true;
    this.order.close();
    this.marks.close();
    this.waits.close();
  }
}
