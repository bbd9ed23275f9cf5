import cluster, { type Worker } from 'node:cluster';
import type { PresenceChange } from './broker.js';
import { optionError } from '../protocol/protocol.js';
import { RelayHistory } from './relay-history.js';
import { ClaimWaits } from './worker-claims.js';
import { isBatch, type WorkerOp } from './worker-ipc.js';
import { WorkerLink } from './worker-link.js';

export interface WorkerRelayOptions {
  /**
   * Channel prefix; must match the workers' `WorkerBroker` prefix.
   * @default 'wshub'
   */
  prefix?: string;
  /**
   * Called in the primary for every presence change of the cluster (the
   * hubs emit `'presence'` once per change, on one worker; this sees it
   * even when no worker is left to emit it).
   */
  onPresence?: (change: PresenceChange) => void;
  /**
   * Bytes (about) the relay queues for one worker that reads slower than
   * the others send to it. Above it, the relay stops acknowledging the
   * batches that send to that worker, so their senders' `WorkerBroker`s
   * hold further messages (and the apps' `sendMessage` / `push` wait) until
   * it caught up. What the primary holds per worker is this plus one
   * acknowledgement window (1 MiB) per sending worker.
   * @default 4194304 (4 MiB)
   */
  maxQueuedBytes?: number;
}

export interface WorkerRelayStats {
  /** Workers whose broker said hello and has not left. */
  workers: number;
  /** Users online on at least one worker. */
  users: number;
  /** Channels at least one worker subscribes. */
  channels: number;
  /** Envelopes handed to a worker. */
  relayed: number;
  /** IPC messages (batches) sent to workers. */
  batches: number;
  /** Bytes (about) queued for workers, not yet written to their channels. */
  queuedBytes: number;
  /**
   * Message recovery, once a worker's hub turned it on: users whose history
   * the relay keeps, and the estimated bytes of every kept message.
   */
  historyUsers?: number;
  historyBytes?: number;
}

/**
 * A write to a worker that is dying fails (EPIPE, or the channel is closed):
 * its 'exit' follows and drops the worker, and what it was sent goes with
 * its sockets.
 */
const ignoreSendError = (): void => {};

/**
 * The primary-process side of {@link WorkerBroker}: relays every worker's
 * publishes to the workers subscribed to the channel, keeps presence
 * for the whole cluster (user → the workers that hold it) and, once a
 * worker's hub has `recovery` on, the message history of every worker
 * ({@link RelayHistory}). It decides each
 * presence transition once and tells one worker's hub to emit it: the
 * worker whose join made the user online, or whose leave made it offline;
 * when a worker exits, a live worker emits the offline changes of the users
 * only it held.
 *
 * It also tells each worker whether it holds a user alone (a worker that
 * does sends to that user without IPC), and answers a worker's claim of a
 * user (before it admits its first socket of it) only once the user's lone
 * holder knows it no longer is ({@link ClaimWaits}).
 *
 * Create it in the primary before `cluster.fork()`. It listens to
 * `cluster`'s `'message'` and `'exit'` events; `close()` stops that.
 */
export class WorkerRelay {
  readonly prefix: string;
  private readonly links = new Map<number, WorkerLink>();
  private readonly subscribers = new Map<string, Set<WorkerLink>>();
  /** userId → (worker id → plain user). */
  private readonly presence = new Map<string, Map<number, unknown>>();
  private readonly onPresence: ((change: PresenceChange) => void) | undefined;
  private readonly maxQueuedBytes: number;
  private relayed = 0;
  private closedBatches = 0;
  /** The workers the batch being relayed now went to. */
  private readonly touched = new Set<WorkerLink>();
  private readonly onMessage = (worker: Worker, message: unknown) => {
    if (isBatch<WorkerOp>(message, this.prefix)) this.receive(worker, message.ops, message.bytes);
  };
  private readonly onFlushed = (link: WorkerLink) => {
    if (link.waiters.size > 0 && link.out.bytes <= this.maxQueuedBytes) this.release(link);
  };
  /** Message recovery's history, once a worker's hub asked for it. */
  private readonly history = new RelayHistory<WorkerLink>({
    linksOf: (userId) => (userId === undefined ? this.links.values() : (this.subscribers.get(this.userChannel(userId)) ?? [])),
    send: (link, op) => {
      link.out.push(op);
      this.touched.add(link);
    },
  });
  private readonly historyOffset = () => this.history.offset();
  /** Claims of a user's first socket on a worker, waiting for the user's other holders to learn it. */
  private readonly claims = new ClaimWaits<WorkerLink>((link, id, userId) => {
    if (this.links.get(link.worker.id) !== link) return; // the claimer is gone
    const holders = this.subscribers.get(this.userChannel(userId));
    link.out.push(['answer', id, holders?.size === 1 && holders.has(link)]);
    this.touched.add(link);
  });
  private readonly onExit = (worker: Worker) => {
    worker.off('error', ignoreSendError);
    this.drop(worker.id);
  };

  constructor(options: WorkerRelayOptions = {}) {
    const prefix = options.prefix ?? 'wshub';
    if (typeof prefix !== 'string' || prefix.length === 0 || prefix.includes(' ')) {
      throw optionError('WorkerRelay', 'prefix', 'a non-empty string without spaces', prefix);
    }
    if (!cluster.isPrimary) {
      throw new Error('wshub: WorkerRelay runs in the primary process of a node:cluster (cluster.isPrimary is false here)');
    }
    if (options.onPresence !== undefined && typeof options.onPresence !== 'function') {
      throw optionError('WorkerRelay', 'onPresence', 'a function', options.onPresence);
    }
    const maxQueued = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    if (!Number.isInteger(maxQueued) || maxQueued <= 0) {
      throw optionError('WorkerRelay', 'maxQueuedBytes', 'a positive integer', maxQueued);
    }
    this.maxQueuedBytes = maxQueued;
    this.prefix = prefix;
    this.onPresence = options.onPresence;
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  stats(): WorkerRelayStats {
    let batches = this.closedBatches;
    let queuedBytes = 0;
    for (const link of this.links.values()) {
      batches += link.out.batches;
      queuedBytes += link.out.bytes;
    }
    return {
      workers: this.links.size,
      users: this.presence.size,
      channels: this.subscribers.size,
      relayed: this.relayed,
      batches,
      queuedBytes,
      ...this.history.stats(),
    };
  }

  /**
   * Stops relaying. Workers' queries then time out (their brokers report
   * it), and a worker's sends wait once its window went unacknowledged.
   */
  close(): void {
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
    this.history.close();
    for (const link of this.links.values()) {
      link.out.flush(true);
      link.worker.off('error', ignoreSendError);
    }
  }

  private receive(worker: Worker, ops: WorkerOp[], bytes: unknown): void {
    this.touched.clear();
    const link = this.apply(worker, ops);
    if (link && typeof bytes === 'number' && bytes > 0) this.acknowledge(link, bytes);
    this.touched.clear();
  }

  /**
   * Acknowledges a worker's batch at once, or, when a worker it went to has
   * more than `maxQueuedBytes` queued, once that worker's queue drained: the
   * sender's window then fills and its broker holds further messages.
   */
  private acknowledge(link: WorkerLink, bytes: number): void {
    for (const to of this.touched) {
      if (to.out.bytes <= this.maxQueuedBytes) continue;
      link.blockers.add(to);
      to.waiters.add(link);
    }
    // Acknowledgements keep their order: one held holds every later one.
    if (link.blockers.size > 0) link.heldAck += bytes;
    else link.out.push(['ack', bytes]);
  }

  /** `link`'s queue drained (or it left): the acknowledgements that waited for it go. */
  private release(link: WorkerLink): void {
    for (const waiter of link.waiters) {
      waiter.blockers.delete(link);
      if (waiter.blockers.size > 0 || waiter.heldAck === 0 || this.links.get(waiter.worker.id) !== waiter) continue;
      waiter.out.push(['ack', waiter.heldAck]);
      waiter.heldAck = 0;
    }
    link.waiters.clear();
  }

  /** Applies a worker's operations; the worker's link after them, if it has one. */
  private apply(worker: Worker, ops: WorkerOp[]): WorkerLink | undefined {
    let link = this.links.get(worker.id);
    for (const op of ops) {
      if (op[0] === 'hello') {
        // A worker's hub (re)attached: start from a clean slate for it.
        if (link) this.drop(worker.id);
        link = new WorkerLink(worker, this.prefix, this.onFlushed, this.historyOffset);
        // In Node an 'error' nobody listens to is a crash, of the primary and
        // with it every worker: a Worker emits one when a write to it fails.
        worker.off('error', ignoreSendError);
        worker.on('error', ignoreSendError);
        this.links.set(worker.id, link);
        link.out.push(['welcome']);
        continue;
      }
      if (!link) continue; // ops of a worker that left (or never said hello)
      switch (op[0]) {
        case 'sub':
          this.subscribe(link, op[1]);
          if (typeof op[2] === 'number' && typeof op[3] === 'number' && op[1].startsWith(this.userPrefix)) {
            this.history.subscribed(link, op[1].slice(this.userPrefix.length), op[2], op[3]);
          }
          break;
        case 'unsub':
          this.unsubscribe(link, op[1]);
          break;
        case 'pub':
          this.publish(link, op[1], op[2]);
          break;
        case 'join':
          this.join(link, op[1], op[2]);
          break;
        case 'leave':
          this.leave(link, op[1], link);
          break;
        case 'query':
          link.out.push(['answer', op[1], this.answer(op[2], op[3])]);
          this.touched.add(link);
          break;
        case 'history':
          this.history.open(link, op[1]);
          this.touched.add(link);
          break;
        case 'rec':
          this.history.record(op[1], op[2], op[3], op[4], typeof op[5] === 'string' ? op[5] : undefined);
          break;
        case 'claim':
          this.subscribe(link, this.userChannel(op[2]));
          this.claims.claim(op[2], link, op[1]);
          break;
        case 'noted':
          this.claims.settled(op[1], link);
          break;
        case 'read':
          link.out.push(['answer', op[1], this.history.read(op[2], op[3], op[4])]);
          this.touched.add(link);
          break;
        case 'bye':
          this.drop(worker.id);
          link = undefined;
          break;
      }
    }
    return link;
  }

  private get userPrefix(): string {
    return `${this.prefix}:user:`;
  }

  private userChannel(userId: string): string {
    return `${this.userPrefix}${userId}`;
  }

  private subscribe(link: WorkerLink, channel: string): void {
    if (link.channels.has(channel)) return;
    link.channels.add(channel);
    let set = this.subscribers.get(channel);
    if (!set) {
      set = new Set();
      this.subscribers.set(channel, set);
    }
    set.add(link);
    // The user's lone holder delivers without the relay: tell it, and hold claims until it says it knows.
    if (set.size === 2 && channel.startsWith(this.userPrefix)) {
      const userId = channel.slice(this.userPrefix.length);
      for (const other of set) {
        if (other === link) continue;
        other.out.push(['alone', userId, false]);
        this.touched.add(other);
        this.claims.told(userId, other);
      }
    }
  }

  private unsubscribe(link: WorkerLink, channel: string): void {
    if (!link.channels.delete(channel)) return;
    const set = this.subscribers.get(channel);
    if (!set) return;
    set.delete(link);
    if (set.size === 0) this.subscribers.delete(channel);
    if (!channel.startsWith(this.userPrefix)) return;
    const userId = channel.slice(this.userPrefix.length);
    this.claims.settled(userId, link);
    // One holder left: it may deliver without the relay again.
    if (set.size === 1) for (const last of set) last.out.push(['alone', userId, true]);
  }

  private publish(from: WorkerLink, channel: string, data: string): void {
    const set = this.subscribers.get(channel);
    if (!set) return;
    for (const link of set) {
      // The sender delivered locally already.
      if (link === from) continue;
      this.relayed++;
      link.out.push(['msg', channel, data]);
      this.touched.add(link);
    }
  }

  private join(link: WorkerLink, userId: string, user: unknown): void {
    let nodes = this.presence.get(userId);
    if (!nodes) {
      nodes = new Map();
      this.presence.set(userId, nodes);
    }
    const wasOffline = nodes.size === 0;
    nodes.set(link.worker.id, user);
    link.users.add(userId);
    if (wasOffline) this.announce(link, userId, true);
  }

  /** `link` no longer holds `userId`; `teller` emits the change if the user is now offline. */
  private leave(link: WorkerLink, userId: string, teller: WorkerLink | undefined): void {
    link.users.delete(userId);
    const nodes = this.presence.get(userId);
    if (!nodes?.delete(link.worker.id)) return;
    if (nodes.size > 0) return;
    this.presence.delete(userId);
    this.announce(teller, userId, false);
  }

  private announce(teller: WorkerLink | undefined, userId: string, online: boolean): void {
    teller?.out.push(['presence', userId, online]);
    if (this.onPresence) {
      try {
        this.onPresence({ userId, online });
      } catch {
        // The app's callback must not stop the relay.
      }
    }
  }

  private answer(kind: string, userId: string | undefined): unknown {
    if (kind === 'has') return userId !== undefined && this.presence.has(userId);
    if (kind === 'ids') return [...this.presence.keys()];
    const out: Array<[string, unknown]> = [];
    for (const [id, nodes] of this.presence) {
      const first = nodes.values().next();
      if (!first.done) out.push([id, first.value]);
    }
    return out;
  }

  /** A worker left (exit, or its broker closed): its channels go, and its users leave, told by a live worker. */
  private drop(workerId: number): void {
    const link = this.links.get(workerId);
    if (!link) return;
    this.links.delete(workerId);
    // A worker that said bye may still read; one that exited cannot.
    link.out.flush(true);
    link.out.clear();
    this.closedBatches += link.out.batches;
    this.release(link);
    for (const blocker of link.blockers) blocker.waiters.delete(link);
    link.blockers.clear();
    for (const channel of [...link.channels]) this.unsubscribe(link, channel);
    const teller = this.links.values().next().value as WorkerLink | undefined;
    for (const userId of [...link.users]) this.leave(link, userId, teller);
  }
}
