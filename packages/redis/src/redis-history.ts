import { randomBytes } from 'node:crypto';
import type {
  BrokerNode,
  DeliveryFilter,
  HistoryEntry,
  HistoryRecord,
  MessageHistory,
  Position,
  RecordedMessage,
  RecoveryLimits,
} from '@wshub/core';
import { MAX_ENVELOPE_BYTES } from '@wshub/core';
import type { Redis } from 'ioredis';
import type { CommandConnection } from './command-connection.js';
import { RedisUnavailableError } from './redis-unavailable-error.js';
import type { ThrottledReporter } from './throttled-reporter.js';

/**
 * Records a batch of messages. KEYS: seq, epoch, tick, clock, then a stream
 * and a channel per message. ARGV: candidate epoch, maxMessages, ttlMs, then
 * a body and a kind ('u' for a user's stream, 'a' for broadcasts) per message.
 *
 * The offsets come from one INCRBY for the whole prefix, consecutive in the
 * batch's order, and each message is PUBLISHed in the same script, in that
 * order, so the order of publications on every channel is the order of
 * offsets: every node delivers in offset order. A sequence that does not
 * exist (a new or emptied Redis) starts at the current time in
 * microseconds, so offsets keep growing across a Redis that restarted empty
 * (its epoch changes too) and a connected client never sees a smaller one.
 * Once a second the script notes (time → offset) in the clock, which tells a
 * read whether a stream that expired whole may have held what it asks for.
 */
const RECORD = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])))
end
redis.call('SET', KEYS[2], ARGV[1], 'NX')
local epoch = redis.call('GET', KEYS[2])
local n = (#ARGV - 3) / 2
local first = tonumber(redis.call('INCRBY', KEYS[1], n)) - n + 1
local max = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local expire = {}
for i = 1, n do
  local stream = KEYS[3 + 2 * i]
  local body = ARGV[2 + 2 * i]
  local seq = string.format('%.0f', first + i - 1)
  redis.call('XADD', stream, seq .. '-0', 'b', body, 't', now)
  -- A new stream's first node is allocated at 4 KiB; a user with one message
  -- would cost that much. Rewritten (DUMP/RESTORE) it takes what it holds,
  -- and later entries grow it as needed. Best effort: a Redis that forbids
  -- these commands keeps the stream as it is.
  if redis.call('XLEN', stream) == 1 then
    local dumped = redis.pcall('DUMP', stream)
    if type(dumped) == 'string' then redis.pcall('RESTORE', stream, 0, dumped, 'REPLACE') end
  end
  -- XDEL rather than MAXLEN: XDEL moves the stream's max-deleted-entry-id,
  -- which a read compares with its position (trimming does not).
  local over = redis.call('XLEN', stream) - max
  if over > 0 then
    for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+', 'COUNT', over)) do
      redis.call('XDEL', stream, entry[1])
    end
  end
  -- A user's stream goes when its newest entry is ttl old; the broadcast
  -- stream stays (bounded by max), so its absence means "never written".
  if ARGV[3 + 2 * i] == 'u' then expire[stream] = true end
  redis.call('PUBLISH', KEYS[4 + 2 * i], 'r' .. seq .. ':' .. epoch .. ':' .. body)
end
for stream in pairs(expire) do redis.call('PEXPIRE', stream, ttl) end
local tick = redis.call('GET', KEYS[3])
if not tick or now - tonumber(tick) >= 1000 then
  local seq = string.format('%.0f', first)
  redis.call('SET', KEYS[3], now, 'PX', ttl + 60000)
  redis.call('ZADD', KEYS[4], now, seq)
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - ttl - 2000)
  redis.call('PEXPIRE', KEYS[4], ttl + 60000)
end
return {string.format('%.0f', first), epoch}
`;

/** Messages per recording script call at most. */
export const RECORD_BATCH_MESSAGES = 256;
/** Body bytes (UTF-16 units) per recording script call at most; a bigger message goes alone. */
export const RECORD_BATCH_BYTES = 256 * 1024;

/**
 * Reads what a client missed. KEYS: seq, epoch, lost, clock, user stream,
 * broadcast stream. ARGV: epoch, from, ttlMs. Returns `{0, epoch}` when the
 * range cannot be served in full, else `{1, epoch, userEntries, allEntries}`.
 */
const READ = `
local epoch = redis.call('GET', KEYS[2])
if not epoch or epoch ~= ARGV[1] then return {0, epoch or ''} end
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local from = tonumber(ARGV[2])
if from > seq then return {0, epoch} end
if tonumber(redis.call('GET', KEYS[3]) or '0') > from then return {0, epoch} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
-- Every offset given more than ttl ago is at most floor (the first sample
-- taken since was given later): a user stream that expired whole held
-- nothing after a position at or above it.
local floor = seq
local sample = redis.call('ZRANGEBYSCORE', KEYS[4], '(' .. (now - ttl), '+inf', 'LIMIT', 0, 1)
if sample[1] then floor = tonumber(sample[1]) - 1 end
local out = {1, epoch}
for i = 5, 6 do
  local key = KEYS[i]
  if redis.call('EXISTS', key) == 1 then
    local info = redis.call('XINFO', 'STREAM', key)
    for j = 1, #info, 2 do
      if info[j] == 'max-deleted-entry-id' then
        local deleted = tonumber(string.match(info[j + 1], '^(%d+)'))
        if deleted > from then return {0, epoch} end
      end
    end
    local entries = redis.call('XRANGE', key, '(' .. ARGV[2] .. '-0', '+')
    if entries[1] then
      local fields = entries[1][2]
      for j = 1, #fields, 2 do
        if fields[j] == 't' and now - tonumber(fields[j + 1]) > ttl then return {0, epoch} end
      end
    end
    out[#out + 1] = entries
  elseif i == 5 and from < floor then
    return {0, epoch}
  else
    out[#out + 1] = {}
  end
end
return out
`;

/**
 * What a node whose subscriber connection was gone may have missed. KEYS:
 * epoch, then streams. ARGV: the last offset the node received before.
 * Returns the epoch, then per stream: the first offset after it, '0' when
 * there is none, '-1' when entries after it were trimmed (the stream cannot
 * say).
 */
const MISSED = `
local out = {redis.call('GET', KEYS[1]) or ''}
local from = tonumber(ARGV[1])
for i = 2, #KEYS do
  local first = '0'
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local info = redis.call('XINFO', 'STREAM', KEYS[i])
    for j = 1, #info, 2 do
      if info[j] == 'max-deleted-entry-id' and tonumber(string.match(info[j + 1], '^(%d+)')) > from then first = '-1' end
    end
    if first == '0' then
      local entries = redis.call('XRANGE', KEYS[i], '(' .. ARGV[1] .. '-0', '+', 'COUNT', 1)
      if entries[1] then first = string.match(entries[1][1], '^(%d+)') end
    end
  end
  out[i] = first
end
return out
`;

/** Marks every offset up to now as possibly incomplete: reads from before it fail. KEYS: seq, lost. */
const MARK_LOST = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])))
end
local seq = redis.call('INCR', KEYS[1])
redis.call('SET', KEYS[2], string.format('%.0f', seq))
return string.format('%.0f', seq)
`;

/** Reads the epoch (creating it) and the sequence. KEYS: seq, epoch. ARGV: candidate epoch. */
const LOAD = `
redis.call('SET', KEYS[2], ARGV[1], 'NX')
return {redis.call('GET', KEYS[2]), redis.call('GET', KEYS[1]) or '0'}
`;

type Scripted = Redis & {
  wshubHistoryRecord(...args: string[]): Promise<[string, string]>;
  wshubHistoryRead(...args: string[]): Promise<[number, string, ...Array<Array<[string, string[]]>>]>;
  wshubHistoryMarkLost(...args: string[]): Promise<string>;
  wshubHistoryLoad(...args: string[]): Promise<[string, string]>;
  wshubHistoryMissed(...args: string[]): Promise<string[]>;
};

/** Channels confirmed after a subscriber gap, and the gap they close. */
interface CatchUp {
  channels: string[];
  /** Highest offset received before the gap. */
  from: number;
  at: number;
  /** The epoch this node knew when the gap opened. */
  epoch: string;
  /** The first recorded offset received after the channels were confirmed. */
  live: number | undefined;
}

/** How often a resume checks whether its channels are subscribed, in ms. */
const SUBSCRIBED_POLL_MS = 5;

/** What the history needs from its broker. */
export interface RedisHistoryHost {
  node: BrokerNode;
  commands: CommandConnection;
  reporter: ThrottledReporter;
  prefix: string;
  userChannel(userId: string): string;
  broadcastChannel: string;
  /** True once Redis confirmed this node's subscription of `channel`. */
  subscribed(channel: string): boolean;
  /** True when Redis confirmed every channel this node wants. */
  allSubscribed(): boolean;
  /** The user whose channel `channel` is; `undefined` for any other channel. */
  userOf(channel: string): string | undefined;
  /** Sends a message the old way (no offset) to the other nodes, through the outage buffer. */
  publishPlain(record: HistoryRecord): void;
  /** True while the outage buffer holds messages not sent yet. */
  holding(): boolean;
  /** How long after a reconnect the outage buffer is sent, in ms. */
  bufferFlushDelayMs: number;
  /** Records sent to Redis and not answered yet, at most; see {@link RedisHistory.record}. */
  maxInFlight: number;
  /** …and at most this many body bytes (UTF-16 units). */
  maxInFlightBytes: number;
}

/**
 * The shared message history of a {@link RedisBroker} on one Redis: a stream
 * per user (`<prefix>:h:user:<userId>`) and one for broadcasts
 * (`<prefix>:h:all`), offsets from one sequence (`<prefix>:h:seq`), the
 * epoch in `<prefix>:h:epoch`. Recording and publishing are one script, and
 * every node — this one too — delivers what arrives on its channels through
 * `deliverRecorded`, in the order Redis published it, which is offset order.
 *
 * What could not be recorded (Redis unreachable, a failed script) is
 * delivered without an offset as before, and once Redis answers again the
 * offsets up to then are marked lost (`<prefix>:h:lost`), so a resume from
 * before that point answers `failed` rather than leave a hole.
 */
export class RedisHistory implements MessageHistory {
  /** Empty until Redis named the epoch: a resume with it always fails. */
  private epoch = '';
  /** Resolved (and dropped) once the epoch is known; see {@link positionKnown}. */
  private known: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Highest offset this node delivered (or the sequence when it started): where a client starting now stands. */
  private delivered = 0;
  private loaded = false;
  /** Messages went unrecorded and the mark in Redis is not written yet. */
  private unmarked = false;
  private markTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /**
   * Open while a subscriber connection is gone or its channels are not all
   * confirmed again: `from` is the highest offset received before it went.
   */
  private gap: { from: number; at: number; epoch: string } | undefined;
  /** Channels confirmed after a gap, waiting for the first recorded message received after their confirmation. */
  private readonly catchingUp = new Set<CatchUp>();
  /** Records waiting for a script call, in the order they were made, from `head` on. */
  private queue: Array<{ record: HistoryRecord; body: string }> = [];
  private head = 0;
  private queuedBytes = 0;
  /** Records (and their body bytes) sent to Redis and not answered yet. */
  private inFlight = 0;
  private inFlightBytes = 0;
  /** Callers of `record` waiting for room (see {@link record}). */
  private waiters: Array<() => void> = [];
  private flushTimer: ReturnType<typeof setImmediate> | undefined;
  /**
   * The epoch this node proposes when Redis has none. Replaced once it was
   * taken and on every reconnect, so a Redis that restarted empty never gets
   * an epoch it had before.
   */
  private candidate = randomBytes(8).toString('hex');
  private readonly keys: { seq: string; epoch: string; tick: string; clock: string; lost: string; all: string };
  readonly counters = { recorded: 0, unrecorded: 0, recordFailed: 0, resumeForced: 0 };

  constructor(
    private readonly host: RedisHistoryHost,
    private readonly limits: RecoveryLimits,
  ) {
    const p = `${host.prefix}:h`;
    this.keys = { seq: `${p}:seq`, epoch: `${p}:epoch`, tick: `${p}:tick`, clock: `${p}:clock`, lost: `${p}:lost`, all: `${p}:all` };
    const redis = host.commands.redis as Redis;
    if (typeof (redis as unknown as Partial<Scripted>).wshubHistoryRecord !== 'function') {
      redis.defineCommand('wshubHistoryRecord', { lua: RECORD }); // numkeys first: a batch has 4 + 2 per message
      redis.defineCommand('wshubHistoryRead', { numberOfKeys: 6, lua: READ });
      redis.defineCommand('wshubHistoryMarkLost', { numberOfKeys: 2, lua: MARK_LOST });
      redis.defineCommand('wshubHistoryLoad', { numberOfKeys: 2, lua: LOAD });
      redis.defineCommand('wshubHistoryMissed', { lua: MISSED });
    }
  }

  private get redis(): Scripted {
    return this.host.commands.redis as Scripted;
  }

  userStream(userId: string): string {
    return `${this.host.prefix}:h:user:${userId}`;
  }

  get broadcastStream(): string {
    return this.keys.all;
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

  /**
   * Queues the message for the next recording script call. The records of
   * one event-loop turn (up to {@link RECORD_BATCH_MESSAGES} messages or
   * {@link RECORD_BATCH_BYTES}) go to Redis in one call, in the order they
   * were made, and get consecutive offsets.
   *
   * Records sent and not answered yet are bounded (`maxInFlight` records,
   * `maxInFlightBytes` of bodies); more wait here, in order. A promise is
   * returned while the records queued and in flight are over that bound:
   * the hub's `sendMessage`/`push` wait for it, so an app sending flat out
   * goes at the pace Redis answers instead of filling memory.
   */
  record(record: HistoryRecord): Promise<void> | undefined {
    if (this.closed) return undefined;
    // `tp`: the sender's traceparent, for each node's wshub.deliver (older nodes ignore it).
    const header = JSON.stringify({ u: record.userId ?? null, f: record.filter, e: record.event, tp: record.tp });
    const body = `${header}\n${record.text}`;
    this.queue.push({ record, body });
    this.queuedBytes += body.length;
    this.pump(false);
    this.flushTimer ??= setImmediate(() => {
      this.flushTimer = undefined;
      this.pump(true);
    });
    return this.over() ? new Promise<void>((resolve) => this.waiters.push(resolve)) : undefined;
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  private over(): boolean {
    const { maxInFlight, maxInFlightBytes } = this.host;
    return this.inFlight + this.queued > maxInFlight || this.inFlightBytes + this.queuedBytes > maxInFlightBytes;
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
    // While the outage buffer still holds this node's earlier messages, later ones queue behind them (same order for every node).
    if (!this.host.commands.writable || this.host.holding()) {
      if (!all && !this.over()) return; // at the end of the turn, as a batch would have been
      const queue = this.queue.slice(this.head);
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
      for (const { record } of queue) this.unrecorded(record);
      this.release();
      return;
    }
    while (this.queued > 0 && (force || (this.inFlight < this.host.maxInFlight && this.inFlightBytes < this.host.maxInFlightBytes))) {
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
  private send(batch: Array<{ record: HistoryRecord; body: string }>, bytes: number): void {
    const { seq, epoch, tick, clock, all } = this.keys;
    const keys = [seq, epoch, tick, clock];
    const args = [this.candidate, String(this.limits.maxMessages), String(this.limits.ttlMs)];
    for (const { record, body } of batch) {
      const forAll = record.userId === undefined;
      keys.push(forAll ? all : this.userStream(record.userId!), forAll ? this.host.broadcastChannel : this.host.userChannel(record.userId!));
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
    this.host.commands.timed(this.redis.wshubHistoryRecord(String(keys.length), ...keys, ...args), 'a recording').then(
      ([, named]) => {
        this.counters.recorded += batch.length;
        this.adopt(named);
        done();
      },
      (error: Error) => {
        // It may or may not have run: never sent again (at most once), but no resume may claim to cover it.
        this.counters.recordFailed += batch.length;
        this.lost();
        this.host.reporter.report('history', new Error(`wshub: recording ${batch.length} message(s) in the Redis history failed: ${error.message}`));
        done();
      },
    );
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
    for (const batch of this.catchingUp) batch.live ??= message.offset;
    this.adopt(message.epoch);
    this.host.node.deliverRecorded(message.recorded);
    return true;
  }

  async read(userId: string, from: Position): Promise<HistoryEntry[] | undefined> {
    if (this.unmarked) return undefined; // this node could not record something it delivered
    const channels = [this.host.userChannel(userId), this.host.broadcastChannel];
    // What is recorded after the read must reach this node: the read waits for its subscriptions.
    const deadline = Date.now() + this.host.commands.timeoutMs;
    while (!channels.every((c) => this.host.subscribed(c))) {
      if (Date.now() > deadline) throw new RedisUnavailableError(`wshub: the channels of user "${userId}" were not subscribed in time for a resume`);
      await new Promise((resolve) => setTimeout(resolve, SUBSCRIBED_POLL_MS));
    }
    const unavailable = this.host.commands.unavailable();
    if (unavailable) throw unavailable;
    const { seq, epoch, lost, clock, all } = this.keys;
    const reply = await this.host.commands.timed(
      this.redis.wshubHistoryRead(seq, epoch, lost, clock, this.userStream(userId), all, from.epoch, String(from.offset), String(this.limits.ttlMs)),
      'a history read',
    );
    if (reply[0] !== 1) return undefined;
    const out: HistoryEntry[] = [];
    for (const [i, forUser] of [
      [2, userId],
      [3, undefined],
    ] as const) {
      for (const [id, fields] of (reply[i] as Array<[string, string[]]>) ?? []) {
        const entry = toEntry(id, fields, forUser);
        if (!entry) return undefined;
        out.push(entry);
      }
    }
    return out.sort((a, b) => a.offset - b.offset);
  }

  /**
   * A subscriber connection is gone: what is recorded until its channels
   * are confirmed again does not reach this node's sockets.
   */
  subscriberDown(): void {
    if (this.closed || this.gap) return;
    this.gap = { from: this.delivered, at: Date.now(), epoch: this.epoch };
  }

  /**
   * Redis confirmed `channels` again after a gap. Every recorded message on
   * them published after the confirmation arrives, in offset order; the
   * first one received (`live`) bounds what was missed: an entry on a
   * channel's stream after the gap's `from` and before `live` never reached
   * this node. The users of those channels (every user, for the broadcast
   * channel) have their v2 sockets closed with 1012, so their clients
   * resume from the last offset they got — on this node or another.
   */
  confirmed(channels: string[]): void {
    const gap = this.gap;
    if (!gap || this.closed) return;
    const batch: CatchUp = { channels, from: gap.from, at: gap.at, epoch: gap.epoch, live: undefined };
    this.catchingUp.add(batch);
    if (this.host.allSubscribed()) this.gap = undefined;
    if (!this.host.commands.writable) {
      this.missed(batch, undefined);
      return;
    }
    const streams = channels.map((c) => (c === this.host.broadcastChannel ? this.keys.all : this.userStream(this.host.userOf(c) ?? '')));
    this.redis.wshubHistoryMissed(String(streams.length + 1), this.keys.epoch, ...streams, String(batch.from)).then(
      (firsts) => this.missed(batch, firsts),
      (error: Error) => {
        this.host.reporter.report('history', new Error(`wshub: checking what the subscriber missed failed: ${error.message}`));
        this.missed(batch, undefined);
      },
    );
  }

  /** Closes the sockets of the channels in `batch` that may have missed a recorded message; `firsts` undefined: all of them. */
  private missed(batch: CatchUp, reply: string[] | undefined): void {
    this.catchingUp.delete(batch);
    if (this.closed) return;
    const [epoch, ...firsts] = reply ?? [];
    // A gap longer than ttlMs may have lost a whole stream that expired meanwhile;
    // another epoch: Redis lost the history, and with it what this node may have missed.
    if (reply === undefined || epoch !== batch.epoch || Date.now() - batch.at > this.limits.ttlMs) {
      this.counters.resumeForced++;
      this.host.node.closeForResume(undefined);
      return;
    }
    batch.channels.forEach((channel, i) => {
      const first = Number(firsts[i] ?? -1);
      // No live message yet: an entry after `from` may be one still on its way, or one missed; count it missed.
      const missed = first < 0 || (first > 0 && (batch.live === undefined || first < batch.live));
      if (!missed) return;
      const userId = channel === this.host.broadcastChannel ? undefined : this.host.userOf(channel);
      if (userId === undefined && channel !== this.host.broadcastChannel) return;
      this.counters.resumeForced++;
      this.host.node.closeForResume(userId);
    });
  }

  /** The command connection is ready (again): learn the epoch; write the mark for what went unrecorded. */
  connectionUp(): void {
    if (this.closed) return;
    this.candidate = randomBytes(8).toString('hex');
    if (!this.loaded) {
      const { seq, epoch } = this.keys;
      this.redis.wshubHistoryLoad(seq, epoch, this.candidate).then(
        ([named, offset]) => {
          if (this.loaded) return;
          this.loaded = true;
          if (!this.epoch) this.setEpoch(named);
          if (named === this.candidate) this.candidate = randomBytes(8).toString('hex');
          if (this.delivered === 0) this.delivered = Number(offset);
        },
        (error: Error) => this.host.reporter.report('history', new Error(`wshub: reading the Redis history epoch failed: ${error.message}`)),
      );
    }
    if (this.unmarked) this.scheduleMark();
  }

  private adopt(epoch: string): void {
    this.setEpoch(epoch);
    if (epoch === this.candidate) this.candidate = randomBytes(8).toString('hex');
  }

  close(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    this.pump(true, true); // what was recorded before the hub closed is sent (or delivered without offsets)
    this.closed = true;
    this.release();
    clearTimeout(this.markTimer);
  }

  /** A message that could not be recorded: delivered here and sent to the other nodes without an offset. */
  private unrecorded(record: HistoryRecord): void {
    this.counters.unrecorded++;
    this.lost();
    this.host.node.deliverRecorded({ ...record, offset: undefined });
    this.host.publishPlain(record);
  }

  private lost(): void {
    if (this.unmarked) return;
    this.unmarked = true;
    if (this.host.commands.writable) this.scheduleMark();
  }

  /**
   * Writes the mark after the outage buffer was sent (what it held reaches
   * clients without offsets, so a resume must not claim it either).
   */
  private scheduleMark(): void {
    if (this.markTimer || this.closed) return;
    this.markTimer = setTimeout(() => {
      this.markTimer = undefined;
      if (this.closed || !this.host.commands.writable) return;
      this.redis.wshubHistoryMarkLost(this.keys.seq, this.keys.lost).then(
        () => {
          this.unmarked = false;
        },
        (error: Error) => {
          this.host.reporter.report('history', new Error(`wshub: marking lost history in Redis failed: ${error.message}`));
          if (this.host.commands.writable) this.scheduleMark();
        },
      );
    }, this.host.bufferFlushDelayMs + 100);
    this.markTimer.unref();
  }
}

const isFilter = (f: unknown): f is DeliveryFilter => f === null || f === true || typeof f === 'string';

/** Parses `r<offset>:<epoch>:<header>\n<text>`; `undefined` for anything malformed. */
export function decodeRecorded(text: string): { offset: number; epoch: string; recorded: RecordedMessage } | undefined {
  const a = text.indexOf(':');
  const b = text.indexOf(':', a + 1);
  if (a < 2 || b < 0) return undefined;
  const offset = Number(text.slice(1, a));
  if (!Number.isSafeInteger(offset) || offset <= 0) return undefined;
  const body = parseBody(text.slice(b + 1));
  if (!body) return undefined;
  return { offset, epoch: text.slice(a + 1, b), recorded: { ...body, offset } };
}

function parseBody(body: string): (Omit<HistoryEntry, 'offset' | 'at'> & { tp?: string }) | undefined {
  const nl = body.indexOf('\n');
  if (nl < 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(body.slice(0, nl));
  } catch {
    return undefined;
  }
  if (typeof header !== 'object' || header === null) return undefined;
  const { u, f, e, tp } = header as { u?: unknown; f?: unknown; e?: unknown; tp?: unknown };
  if ((u !== null && typeof u !== 'string') || !isFilter(f) || typeof e !== 'string') return undefined;
  const parsed = { userId: u ?? undefined, filter: f, event: e, text: body.slice(nl + 1) };
  // Read leniently, as an envelope's: one that is not a string is dropped, a malformed string ignored by the tracer.
  return typeof tp === 'string' ? { ...parsed, tp } : parsed;
}

function toEntry(id: string, fields: string[], userId: string | undefined): HistoryEntry | undefined {
  let body: string | undefined;
  let at = 0;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 'b') body = fields[i + 1];
    else if (fields[i] === 't') at = Number(fields[i + 1]);
  }
  const parsed = body === undefined ? undefined : parseBody(body);
  if (!parsed || parsed.userId !== userId) return undefined;
  // A replay is not traced: the entry does not keep the traceparent.
  return { userId: parsed.userId, filter: parsed.filter, event: parsed.event, text: parsed.text, offset: Number(id.slice(0, id.indexOf('-'))), at };
}
