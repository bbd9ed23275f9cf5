import cluster from 'node:cluster';
import { ClusterBroker } from './cluster-broker.js';
import { optionError } from '../protocol/protocol.js';
import type { Envelope } from './broker.js';
import type { MessageHistory, Position, RecoveryLimits } from './history.js';
import { type IpcBatch, IPC_WINDOW_BYTES, isBatch, OpQueue, type QueryKind, type RelayOp, type WorkerOp } from './worker-ipc.js';
import { WorkerHistory } from './worker-history.js';
import { QueueFullErrors } from './queue-full.js';

export interface WorkerBrokerOptions {
  /**
   * Channel prefix; the primary's {@link WorkerRelay} must use the same one.
   * Two hubs in one worker (two paths) need two prefixes.
   * @default 'wshub'
   */
  prefix?: string;
  /**
   * Time the primary has to answer a presence query (`onlineUsers()`,
   * `isOnline()`, push callbacks) and the first hello. No answer rejects the
   * query (push callbacks then run for this worker's users, reported
   * through `'error'`), so nothing hangs when no relay runs in the primary.
   * @default 5000
   */
  requestTimeoutMs?: number;
  /**
   * Bytes (about) of messages waiting to go to the primary above which
   * `sendMessage` and `push` resolve only once the queue is below it again:
   * an app that awaits them sends no faster than the relay passes on.
   * @default 1048576 (1 MiB)
   */
  highWaterMarkBytes?: number;
  /**
   * Bytes (about) waiting to go to the primary above which `sendMessage`
   * and `push` reject with a `RangeError` and deliver nothing (reached only
   * by an app that does not await them).
   * @default 16777216 (16 MiB)
   */
  maxQueuedBytes?: number;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || (resolved as number) <= 0) {
    throw optionError('WorkerBroker', name, 'a positive integer', resolved);
  }
  return resolved as number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
  /** Runs as the answer is read (see `request`). */
  onAnswer?: ((answer: unknown) => void) | undefined;
}

/**
 * A broker for hubs in the workers of one `node:cluster`: every worker of
 * one machine, one port, no Redis. Each worker's hub gets its own
 * `WorkerBroker`; the primary process runs a {@link WorkerRelay}, which
 * passes envelopes between the workers over Node's IPC channel and keeps
 * presence for all of them (the way `@socket.io/cluster-adapter` relays
 * for Socket.IO).
 *
 * `sendMessage`, `push` (callbacks once per user, cluster-wide),
 * `disconnect`, `updateUser` and presence then work across workers as they
 * do across nodes on Redis, and so does `recovery` (the relay keeps the
 * history, see {@link WorkerBroker.history}). A message to a user whose
 * every socket is on the sending worker costs no IPC (without `recovery`):
 * the relay tells each worker which users it holds alone. A worker that dies leaves
 * presence at once: the relay sees its exit. For more than one machine, use `RedisBroker`.
 *
 * ```js
 * if (cluster.isPrimary) {
 *   new WorkerRelay();
 *   for (let i = 0; i < availableParallelism(); i++) cluster.fork();
 * } else {
 *   const hub = new WsHub({ authenticate, broker: new WorkerBroker() });
 *   hub.attach(server);
 *   server.listen(3000); // workers share the port
 * }
 * ```
 */
export class WorkerBroker extends ClusterBroker {
  private readonly batcher: OpQueue<WorkerOp>;
  private readonly requestTimeoutMs: number;
  private readonly highWaterMarkBytes: number;
  private readonly maxQueuedBytes: number;
  /** The errors of refused sends (cheap past the first of a run). */
  private readonly full: QueueFullErrors;
  /** Bytes sent since the welcome that the relay has not acknowledged. */
  private unacked = 0;
  /** `sendMessage`/`push` calls waiting for the queue to fall below the high-water mark. */
  private drainWaiters: Array<() => void> = [];
  private readonly pending = new Map<number, Pending>();
  private nextQuery = 1;
  private welcomed = false;
  private helloTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private sendFailed = false;
  /** No relay answered the hello in time: claims would wait for nothing. */
  private helloLate = false;
  /** Messages not sent to the relay: their user is held by this worker alone. */
  private local = 0;
  /**
   * The users this worker holds (or is claiming), and whether it holds each
   * alone: a message to such a user needs no IPC, the hub delivered it.
   */
  private readonly holding = new Map<string, { claiming: boolean; alone: boolean }>();
  /** Message recovery's history, kept by the relay; set when the hub's `recovery` is on. */
  private recording: WorkerHistory | undefined;
  private readonly onIpc = (message: unknown) => {
    if (!isBatch<RelayOp>(message, this.prefix)) return;
    if (typeof message.offset === 'number') this.recording?.seen(message.offset);
    this.receive(message.ops);
  };

  constructor(options: WorkerBrokerOptions = {}) {
    super(options.prefix ?? 'wshub');
    if (!cluster.isWorker || typeof process.send !== 'function') {
      throw new Error(
        'wshub: WorkerBroker runs in a node:cluster worker (cluster.isWorker is false here); the primary process runs a WorkerRelay',
      );
    }
    this.requestTimeoutMs = positiveInteger('requestTimeoutMs', options.requestTimeoutMs, 5000);
    this.highWaterMarkBytes = positiveInteger('highWaterMarkBytes', options.highWaterMarkBytes, 1024 * 1024);
    this.maxQueuedBytes = positiveInteger('maxQueuedBytes', options.maxQueuedBytes, 16 * 1024 * 1024);
    if (this.maxQueuedBytes < this.highWaterMarkBytes) {
      throw optionError('WorkerBroker', 'maxQueuedBytes', `at least highWaterMarkBytes (${this.highWaterMarkBytes})`, this.maxQueuedBytes);
    }
    this.full = new QueueFullErrors(
      `wshub: WorkerBroker: the queue to the primary is full (maxQueuedBytes, ${this.maxQueuedBytes}); this message was not sent (await sendMessage and push: they wait while the queue is over highWaterMarkBytes)`,
    );
    this.batcher = new OpQueue<WorkerOp>(
      this.prefix,
      (batch, done) => this.sendBatch(batch, done),
      // Until the relay's welcome nothing is acknowledged (there may be no relay).
      () => !this.welcomed || this.unacked < IPC_WINDOW_BYTES,
      () => this.drained(),
    );
  }

  /**
   * Flow control (see {@link Broker.admit}): `undefined` while the queue to
   * the primary is below `highWaterMarkBytes`; above it, a promise that
   * settles once it is below again; above `maxQueuedBytes`, a RangeError.
   */
  admit(): Promise<void> | undefined {
    const queued = this.batcher.bytes;
    if (queued < this.highWaterMarkBytes) {
      this.full.taken();
      return undefined;
    }
    if (queued >= this.maxQueuedBytes) throw this.full.next();
    this.full.taken();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private drained(): void {
    if (this.drainWaiters.length === 0 || this.batcher.bytes >= this.highWaterMarkBytes) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  override attach(node: Parameters<ClusterBroker['attach']>[0]): void {
    process.on('message', this.onIpc);
    // Hello first: the relay ignores a worker's operations until it said hello.
    this.batcher.push(['hello']);
    super.attach(node);
    this.helloTimer = setTimeout(() => {
      if (this.welcomed || this.closed) return;
      this.helloLate = true;
      node.reportError(
        new Error(
          `wshub: no WorkerRelay answered in the primary process within ${this.requestTimeoutMs} ms; create one (new WorkerRelay()) before cluster.fork(), with the same prefix ("${this.prefix}")`,
        ),
      );
    }, this.requestTimeoutMs);
    this.helloTimer.unref();
  }

  /**
   * Called before the hub admits its first socket of `userId`: the relay
   * subscribes this worker to the user and answers once every other worker
   * that holds the user knows it no longer holds it alone; the answer says
   * whether this worker does. Never rejects: without an answer in
   * `requestTimeoutMs` the user's messages simply go through the relay.
   * With `recovery` on, every message goes through the relay's history, so
   * there is nothing to claim.
   */
  claimUser(userId: string): Promise<void> | undefined {
    if (this.recording || this.closed || this.sendFailed || this.helloLate) return undefined;
    const entry = { claiming: true, alone: false };
    this.holding.set(userId, entry);
    const settle = (alone: unknown) => {
      if (!entry.claiming) return;
      entry.claiming = false;
      entry.alone = alone === true;
    };
    // The answer applies where it arrives, in order with the relay's other
    // operations: an `alone` right behind it in the same batch (another
    // worker claimed the user meanwhile) must see the claim settled, not be
    // overwritten by a promise callback that runs after it.
    return this.request('a claim', (id) => ['claim', id, userId], settle).then(settle, () => settle(false));
  }

  /** A message (or `disconnect`, `updateUser`) to a user only this worker holds is not sent: the hub delivered it. */
  override publishToUser(userId: string, envelope: Envelope): void {
    if (this.holding.get(userId)?.alone) {
      this.local++;
      return;
    }
    super.publishToUser(userId, envelope);
  }

  /** A claimed user's channel: the relay subscribed it with the claim. */
  override subscribeUser(userId: string): void {
    if (!this.holding.has(userId)) super.subscribeUser(userId);
  }

  override unsubscribeUser(userId: string): void {
    this.holding.delete(userId);
    super.unsubscribeUser(userId);
  }

  protected publish(channel: string, data: string): void {
    this.batcher.push(['pub', channel, data]);
  }

  protected subscribe(channel: string): void {
    // With a history, the relay learns what this worker has seen (a message it recorded meanwhile is resumed).
    const known = this.recording && channel !== this.broadcastChannel ? this.recording.known : undefined;
    if (known === undefined) {
      this.batcher.push(['sub', channel]);
      return;
    }
    this.batcher.push(['sub', channel, known, Date.now()]);
    // Handed to the channel now, before the hub writes the socket's welcome
    // (taken at `known`): queued for the next tick, a worker descheduled
    // in between would let a message sent after the welcome reach the relay
    // first, and the new socket would be closed for a resume it need not make.
    this.batcher.flush();
  }

  /**
   * Message recovery on workers: the history is the relay's, in the
   * primary, shared by every worker (see `WorkerRelay`). Called once, by
   * the hub's constructor, when its `recovery` option is on.
   */
  history(limits: RecoveryLimits): MessageHistory {
    if (!this.node) throw new Error('wshub: WorkerBroker.history() called before a hub attached it');
    if (this.recording) throw new Error('wshub: WorkerBroker.history() was called twice; a broker serves one hub');
    this.recording = new WorkerHistory({
      push: (op) => this.batcher.push(op),
      read: (userId, position) => this.read(userId, position),
    });
    this.batcher.push(['history', limits]);
    return this.recording;
  }

  protected unsubscribe(channel: string): void {
    this.batcher.push(['unsub', channel]);
  }

  /** The relay decides transitions for the whole cluster and tells one worker. */
  protected presenceJoin(userId: string, user: unknown): void {
    this.batcher.push(['join', userId, user]);
  }

  protected presenceLeave(userId: string): void {
    this.batcher.push(['leave', userId]);
  }

  async users(): Promise<Map<string, unknown>> {
    const entries = (await this.query('users')) as Array<[string, unknown]>;
    return new Map(entries);
  }

  override async onlineUsers(): Promise<string[]> {
    return (await this.query('ids')) as string[];
  }

  override async isOnline(userId: string): Promise<boolean> {
    return (await this.query('has', userId)) === true;
  }

  override stats(): Record<string, number> {
    return { ...super.stats(), local: this.local, batches: this.batcher.batches, queuedBytes: this.batcher.bytes };
  }

  /**
   * Tells the relay this worker is gone (its channels and any user it still
   * holds are dropped there) and stops listening. The hub calls this after
   * its sockets closed, so its users have left already.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.batcher.push(['bye']);
    // Everything still queued goes now, past the window: no later turn may come.
    this.batcher.flush(true);
    this.closed = true;
    this.holding.clear();
    this.recording?.close();
    this.drained();
    clearTimeout(this.helloTimer);
    process.off('message', this.onIpc);
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error('wshub: the WorkerBroker closed before the primary answered'));
      this.pending.delete(id);
    }
  }

  private query(kind: QueryKind, userId?: string): Promise<unknown> {
    return this.request('a presence query', (id) => (userId === undefined ? ['query', id, kind] : ['query', id, kind, userId]));
  }

  private read(userId: string, { epoch, offset }: Position): Promise<unknown> {
    return this.request('a history read', (id) => ['read', id, userId, epoch, offset]);
  }

  /** `onAnswer` runs as the answer is read, before the operations behind it; the promise settles later. */
  private request(what: string, op: (id: number) => WorkerOp, onAnswer?: (answer: unknown) => void): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('wshub: the WorkerBroker is closed'));
    const id = this.nextQuery++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`wshub: the primary's WorkerRelay did not answer ${what} within ${this.requestTimeoutMs} ms`));
      }, this.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer, onAnswer });
      this.batcher.push(op(id));
    });
  }

  private sendBatch(batch: IpcBatch<WorkerOp>, done: () => void): boolean {
    if (this.closed) return true;
    if (this.welcomed) this.unacked += batch.bytes;
    try {
      // With a callback, a failed write is handed to it, never emitted as the process's 'error' (a crash).
      return (
        process.send?.(batch, (error: Error | null) => {
          if (error) this.sendFailure(error);
          done();
        }) ?? true
      );
    } catch (error) {
      this.sendFailure(error);
      return true;
    }
  }

  /** The channel is gone (the primary died): the worker will be disconnected; say so once. */
  private sendFailure(error: unknown): void {
    if (this.sendFailed) return;
    this.sendFailed = true;
    this.node?.reportError(error instanceof Error ? error : new Error(String(error)));
  }

  private receive(ops: RelayOp[]): void {
    for (const op of ops) {
      switch (op[0]) {
        case 'welcome':
          this.welcomed = true;
          this.helloLate = false;
          this.unacked = 0;
          clearTimeout(this.helloTimer);
          break;
        case 'ack':
          this.unacked = Math.max(0, this.unacked - op[1]);
          this.batcher.flush();
          break;
        case 'msg':
          this.onMessage(op[1], op[2]);
          break;
        case 'presence':
          this.node?.presence({ userId: op[1], online: op[2] });
          break;
        case 'history':
          this.recording?.opened(op[1], op[2]);
          break;
        case 'rec':
          this.recording?.seen(op[1]);
          this.counters.received++;
          this.node?.deliverRecorded({ offset: op[1], userId: op[2] ?? undefined, filter: op[3], event: op[4], text: op[5] });
          break;
        case 'resume':
          this.node?.closeForResume(op[1]);
          break;
        case 'alone': {
          // A claim's answer, still to come, decides for a user being claimed.
          const entry = this.holding.get(op[1]);
          if (entry && !entry.claiming) entry.alone = op[2] === true;
          if (op[2] !== true) this.batcher.push(['noted', op[1]]);
          break;
        }
        case 'answer': {
          const pending = this.pending.get(op[1]);
          if (!pending) break;
          this.pending.delete(op[1]);
          clearTimeout(pending.timer);
          pending.onAnswer?.(op[2]);
          pending.resolve(op[2]);
          break;
        }
      }
    }
  }
}
