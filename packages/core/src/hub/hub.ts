import type { SendOptions } from '../brokers/recent-ids.js';
import type { HubOptions, HubUser } from '../config/options.js';
import { HubError } from '../protocol/errors.js';
import { optionError } from '../protocol/protocol.js';
import type { WatchFilterArg } from '../routing/delivery-filter.js';
import type { Connection, OpenOptions, Session } from '../session/connection.js';
import { closeSessions } from '../session/drain.js';
import { isWellFormed } from '../session/handshake.js';
import type { Handler } from '../util/notifier.js';
import type { ClusterSync } from './cluster-sync.js';
import { openSession } from './admission.js';
import { assertUserId } from './arguments.js';
import { createHubContext, type HubContext } from './hub-context.js';
import type { HubObserver } from './hub-observer.js';
import type { HubEvents, HubSocket, HubStats } from './hub-types.js';
import type { PushAllow, PushData } from './push.js';
import { push, sendMessage } from './send.js';

export type { HubEvents, HubSocket, HubSocketFields, HubStats } from './hub-types.js';

/**
 * The hub: sessions, per-user rooms, watch rules, delivery, push and cluster
 * sync, with no transport of its own. A transport hands it each new
 * connection with {@link open} and gets back a {@link Session} to report
 * frames and the end; the hub writes through the connection it was given.
 * `WsHub` is this hub with the `ws` adapter; `FakeHub` (in
 * `@wshub/testing`) is this hub with an in-memory one.
 */
export class Hub<User extends HubUser = HubUser, S extends object = object> {
  /** Everything the hub's parts share (see {@link HubContext}). */
  private readonly ctx: HubContext<User, S>;

  constructor(options: HubOptions<User, HubSocket<User, S>>) {
    this.ctx = createHubContext(options);
  }

  /** The sessions the hub holds (open or closing) until the transport reports each closed: what a transport's heartbeat walks. */
  protected openSessions(): ReadonlySet<Session & { readonly connection: Connection }> {
    return this.ctx.sessions;
  }

  /** Unique per hub instance (brokers drop their own publishes by it). */
  get nodeId(): string {
    return this.ctx.cluster.nodeId;
  }

  /** The path the hub serves. */
  get path(): string {
    return this.ctx.config.path;
  }

  // ---------------------------------------------------------------- events

  on<K extends keyof HubEvents<User, HubSocket<User, S>>>(
    name: K,
    handler: Handler<HubEvents<User, HubSocket<User, S>>[K]>,
  ): this {
    this.ctx.notifier.on(name, handler);
    return this;
  }

  off<K extends keyof HubEvents<User, HubSocket<User, S>>>(
    name: K,
    handler?: Handler<HubEvents<User, HubSocket<User, S>>[K]>,
  ): this {
    this.ctx.notifier.off(name, handler);
    return this;
  }

  /**
   * Registers an observer of the hub's timings (auth, `canWatch`, delivery
   * of each call); returns a function that removes it. See {@link HubObserver}.
   */
  observe(observer: HubObserver): () => void {
    if (typeof observer !== 'object' || observer === null) {
      throw new TypeError(`wshub: observe() needs an object with optional timing methods, got ${observer === null ? 'null' : typeof observer}`);
    }
    return this.ctx.observers.add(observer);
  }

  // ------------------------------------------------------------- transport

  /**
   * Whether a transport should accept another connection now: the hub is
   * not closing and fewer than `limits.maxPendingSockets` handshakes are
   * pending. `WsHub` answers HTTP 503 otherwise, before any WebSocket exists.
   */
  get acceptsConnections(): boolean {
    return this.ctx.state.closing === undefined && this.ctx.state.pending < this.ctx.config.limits.maxPendingSockets;
  }

  /**
   * The `allowedOrigins` rule for a connection's `Origin` header (`undefined`
   * when there is none). A function that throws refuses, and is reported.
   * `WsHub` answers HTTP 403 when this is false.
   */
  allowsOrigin(origin: string | undefined): boolean {
    const rule = this.ctx.allowOrigin;
    if (!rule) return true;
    try {
      return rule(origin) === true;
    } catch (error) {
      this.ctx.reportUntraced(HubError.from('allowedOrigins', error));
      return false;
    }
  }

  /**
   * A transport accepted a connection: the hub adds its fields to `socket`,
   * emits `'connected'` and runs `authenticate`. The transport reports the
   * connection's frames and its end through the returned session.
   */
  open(options: OpenOptions<S>): Session {
    return openSession(this.ctx, options);
  }

  // -------------------------------------------------------------- delivery

  /**
   * Sends `data` as `event` to every socket of `userId` (on every node), or
   * only to the sockets that watch it when `isWatchingOrPayload` is given:
   * `true` → watching the event; a string/number → watching that scope or
   * the wildcard. `serialize` and `JSON.stringify` run once per call. A
   * message larger than `limits.maxBufferedBytes` rejects with a RangeError.
   * With a broker whose queue fills (`WorkerBroker`), the promise resolves
   * once the queue is short again, and rejects with a RangeError, nothing
   * delivered, when it is full. With `options.id`, a repeat of a recent id
   * is dropped (see `RecentIds`, `brokers/recent-ids.ts`). Resolves with the
   * message's id: `options.id`, else one the hub made (what receipts report).
   */
  async sendMessage(
    userId: string,
    event: string,
    data?: unknown,
    isWatchingOrPayload?: WatchFilterArg,
    options?: SendOptions,
  ): Promise<string> {
    return sendMessage(this.ctx, userId, event, data, isWatchingOrPayload, options);
  }

  /**
   * Sends `event` to every connected user, optionally only those `allow`
   * accepts, with `data` or a per-user `data(user)`. Callbacks run once per
   * user (not per socket), concurrently up to `limits.pushConcurrency`; one
   * that throws, rejects or does not settle within `pushTimeoutMs` skips
   * that user and is reported through `'error'`. With `options.id`, a
   * repeat of a recent id is dropped (see `RecentIds`, `brokers/recent-ids.ts`).
   * Resolves with the message's id, as `sendMessage` does.
   */
  async push(
    event: string,
    data?: PushData<User>,
    allow?: PushAllow<User> | null,
    isWatchingOrPayload?: WatchFilterArg,
    options?: SendOptions,
  ): Promise<string> {
    return push(this.ctx, event, data, allow, isWatchingOrPayload, options);
  }

  /**
   * Closes the sockets of `userId` with 4000 ("do not reconnect") on every
   * node: one device when `deviceFingerprint` is given, else all of them.
   */
  async disconnect(userId: string, deviceFingerprint?: string): Promise<void> {
    assertUserId(userId);
    if (deviceFingerprint !== undefined && typeof deviceFingerprint !== 'string') {
      throw new TypeError(`wshub: "deviceFingerprint" must be a string, got ${typeof deviceFingerprint}`);
    }
    const { cluster, tracing } = this.ctx;
    const run = () => admitted(cluster, () => cluster.disconnect(userId, deviceFingerprint));
    if (!tracing) return run();
    return tracing.send('disconnect', { userId, countSockets: false }, async () => run());
  }

  /** Replaces the user object on every socket of `user.id`, on every node. */
  async updateUser(user: User): Promise<void> {
    if (typeof user !== 'object' || user === null || typeof user.id !== 'string' || user.id === '') {
      throw new TypeError('wshub: updateUser(user) needs an object with a non-empty string "id"');
    }
    const { cluster, tracing } = this.ctx;
    const run = () => admitted(cluster, () => cluster.updateUser(user.id, user));
    if (!tracing) return run();
    return tracing.send('updateUser', { userId: user.id, countSockets: false }, async () => run());
  }

  // ---------------------------------------------------------------- queries

  /** Ids of the users with at least one authorized socket on this node. */
  connectedUsers(): string[] {
    return this.ctx.rooms.userIds();
  }

  /** The authorized sockets of a user on this node. */
  socketsOf(userId: string): readonly HubSocket<User, S>[] {
    const room = this.ctx.rooms.get(userId);
    return room ? [...room].map((session) => session.socket) : [];
  }

  /** Online users: cluster-wide with a broker that shares presence, else this node's. */
  onlineUsers(): Promise<string[]> {
    return this.ctx.cluster.onlineUsers();
  }

  isOnline(userId: string): Promise<boolean> {
    // No user has such an id, and in Redis it would name another user's presence.
    if (typeof userId === 'string' && !isWellFormed(userId)) return Promise.resolve(false);
    return this.ctx.cluster.isOnline(userId);
  }

  stats(): HubStats {
    const { sessions, state, rooms, counters, errorsBySource, cluster } = this.ctx;
    return {
      connections: sessions.size,
      pending: state.pending,
      users: rooms.size,
      receiptsPending: this.ctx.receipts?.pendingCount ?? 0,
      ...counters,
      errorsBySource: Object.fromEntries(errorsBySource),
      broker: cluster.broker.stats?.() ?? {},
    };
  }

  // -------------------------------------------------------------- shutdown

  get isClosing(): boolean {
    return this.ctx.state.closing !== undefined;
  }

  /**
   * Closes every socket, then the broker. No connection is accepted from the
   * first call on. Sockets that do not answer the close frame within
   * `closeTimeoutMs` (2 s) are terminated. Idempotent: later calls return
   * the first call's promise.
   *
   * - `close()`: every socket at once, with 1001 (server shutting down).
   * - `close({ drainMs })`: a rolling deploy. Sockets are closed with 1012
   *   (server restarting) spread evenly over `drainMs`, so their clients
   *   reconnect to other nodes a few at a time instead of all at once.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const drainMs = options?.drainMs ?? 0;
    if (typeof drainMs !== 'number' || !Number.isInteger(drainMs) || drainMs < 0) {
      return Promise.reject(optionError('close()', 'drainMs', 'a non-negative integer', drainMs));
    }
    this.ctx.state.closing ??= this.shutdown(drainMs);
    return this.ctx.state.closing;
  }

  private async shutdown(drainMs: number): Promise<void> {
    await closeSessions([...this.ctx.sessions], drainMs);
    this.ctx.resumeBudget?.close();
    this.ctx.receipts?.close();
    await this.ctx.cluster.close();
  }
}

/** Options of `hub.close()`. */
export interface CloseOptions {
  /** Spread the closing of sockets (with 1012) over this many ms. 0 closes all at once with 1001. */
  drainMs?: number;
}

/**
 * Runs `publish` (something every node must hear) the way a send is
 * admitted: throws before doing anything when the broker's queue is full;
 * else what the caller awaits after it (see `Broker.admit`).
 */
function admitted(cluster: ClusterSync<HubUser>, publish: () => void): Promise<void> | undefined {
  const backlog = cluster.admit();
  publish();
  return backlog;
}
