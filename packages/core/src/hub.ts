import { LocalBroker } from './broker.js';
import { ClusterSync } from './cluster-sync.js';
import type { OpenOptions, Session } from './connection.js';
import { Delivery } from './delivery.js';
import { type DeliveryFilter, matchesFilter, toDeliveryFilter, type WatchFilterArg } from './delivery-filter.js';
import { HubError } from './errors.js';
import { settleHandshake, whenPositionKnown } from './admission.js';
import { dispatchFrame } from './frames/dispatch.js';
import { isWellFormed, runHandshake } from './handshake.js';
import { assertEvent, assertUserId } from './arguments.js';
import { closeSessions } from './drain.js';
import type { HubContext } from './hub-context.js';
import { newCounters } from './hub-counters.js';
import { type HubObserver, Observers, secondsSince } from './hub-observer.js';
import type { HubEvents, HubSocket, HubStats } from './hub-types.js';
import { type Handler, Notifier } from './notifier.js';
import { type HubOptions, type HubRequest, type HubUser, type ResolvedOptions, resolveOptions } from './options.js';
import { CloseCode, optionError } from './protocol.js';
import { originRule } from './origins.js';
import { type PushAllow, type PushData, runPush } from './push.js';
import { Receipts } from './receipts/receipts.js';
import { messageIds, withReceipt } from './receipts/tag.js';
import { assertSendOptions, RecentIds, type SendOptions } from './recent-ids.js';
import { ResumeBudget } from './resume-budget.js';
import { sessionEnded } from './session-end.js';
import { decorateSocket } from './socket-fields.js';
import { type SessionHost, SocketSession } from './socket-session.js';
import { createTracing, type Tracing } from './tracing.js';
import { UserRegistry } from './user-registry.js';
import { type CanWatch, Watches } from './watches.js';
import { WatchRegistry } from './watch-registry.js';

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
  private readonly config: ResolvedOptions;
  private readonly authenticate: (request: HubRequest) => User | Promise<User>;
  private readonly allowOrigin: ((origin: string | undefined) => boolean) | undefined;
  private readonly sessions = new Set<SocketSession<User, S>>();
  private readonly rooms = new UserRegistry<SocketSession>();
  private readonly watchRegistry = new WatchRegistry<SocketSession>();
  private readonly counters = newCounters();
  private readonly errorsBySource = new Map<string, number>();
  private readonly observers = new Observers((error) => this.report(HubError.from('observer', error)));
  private readonly notifier: Notifier<HubEvents<User, HubSocket<User, S>>>;
  private readonly delivery: Delivery;
  private readonly watches: Watches;
  private readonly cluster: ClusterSync<User>;
  private readonly sessionHost: SessionHost;
  /** What the parts that answer frames and keep rules share (see {@link HubContext}). */
  private readonly ctx: HubContext<User, S>;
  private readonly recentIds = new RecentIds();
  /** Only with the `receipts` option. */
  private readonly receipts: Receipts | undefined;
  private readonly makeId = messageIds();
  private pendingCount = 0;
  private closing: Promise<void> | undefined;
  /** Undefined without `@opentelemetry/api`: no span is even attempted. */
  private readonly tracing: Tracing | undefined;

  constructor(options: HubOptions<User, HubSocket<User, S>>) {
    this.config = resolveOptions(options as HubOptions<HubUser, unknown>);
    this.authenticate = options.authenticate;
    this.allowOrigin = originRule(options.allowedOrigins);
    this.notifier = new Notifier((name, error) => {
      if (name !== 'error') this.report(HubError.from(`'${String(name)}' handler`, error));
    });
    // An error reported while a call of this hub is traced is recorded on its span too.
    const report = (error: HubError) => {
      this.tracing?.recordError(error);
      this.report(error);
    };
    this.tracing = createTracing(options.tracing, () => this.counters.messagesOut);
    this.delivery = new Delivery(
      this.rooms,
      this.watchRegistry,
      this.counters,
      { maxBufferedBytes: this.config.limits.maxBufferedBytes, drainTimeoutMs: this.config.drainTimeoutMs },
      options.serialize,
      report,
    );
    this.watches = new Watches(
      this.watchRegistry,
      this.delivery,
      options.canWatch as CanWatch | undefined,
      this.config.watchTimeoutMs,
      this.config.limits.maxWatchesPerSocket,
      report,
      this.counters,
      this.observers,
      this.tracing,
    );
    const receipts = this.config.receipts && this.newReceipts();
    this.receipts = receipts;
    this.delivery.receipts = receipts;
    this.cluster = new ClusterSync<User>(
      options.broker ?? new LocalBroker(),
      this.delivery,
      this.rooms,
      {
        disconnectLocal: (userId, deviceFingerprint) => this.disconnectLocal(userId, deviceFingerprint),
        presence: (change) => this.notifier.emit('presence', change),
        report,
        userOf: (session) => session.user as User,
        ...(receipts && { receipt: (envelope) => receipts.confirmed(envelope) }),
      },
      this.config.recovery,
      this.tracing,
    );
    this.ctx = {
      config: this.config,
      counters: this.counters,
      sessions: this.sessions,
      rooms: this.rooms,
      delivery: this.delivery,
      watches: this.watches,
      cluster: this.cluster,
      resumeBudget: this.cluster.history ? new ResumeBudget(this.config.limits.resumesPerUser) : undefined,
      refresh: options.refresh,
      receipts,
      notifier: this.notifier,
      report,
    };
    this.sessionHost = {
      limits: this.config.limits,
      closeTimeoutMs: this.config.closeTimeoutMs,
      pauseTimeoutMs: this.config.pauseTimeoutMs,
      countIn: () => {
        this.counters.messagesIn++;
      },
      handleFrame: (session, text) => dispatchFrame(this.ctx, session as SocketSession<User, S>, text),
      leftPending: () => {
        this.pendingCount--;
      },
      ended: (session, code, reason) => sessionEnded(this.ctx, session as SocketSession<User, S>, code, reason),
    };
  }

  private newReceipts(): Receipts {
    const hub = this;
    return new Receipts(this.config.receipts!, {
      get nodeId() {
        return hub.cluster.nodeId;
      },
      counters: this.counters,
      delivered: (event) => this.notifier.emit('delivered', event),
      undelivered: (event) => this.notifier.emit('undelivered', event),
      send: (envelope) => this.cluster.sendReceipt(envelope),
    });
  }

  /** Unique per hub instance (brokers drop their own publishes by it). */
  get nodeId(): string {
    return this.cluster.nodeId;
  }

  /** The path the hub serves. */
  get path(): string {
    return this.config.path;
  }

  // ---------------------------------------------------------------- events

  on<K extends keyof HubEvents<User, HubSocket<User, S>>>(
    name: K,
    handler: Handler<HubEvents<User, HubSocket<User, S>>[K]>,
  ): this {
    this.notifier.on(name, handler);
    return this;
  }

  off<K extends keyof HubEvents<User, HubSocket<User, S>>>(
    name: K,
    handler?: Handler<HubEvents<User, HubSocket<User, S>>[K]>,
  ): this {
    this.notifier.off(name, handler);
    return this;
  }

  /** Reports an error through `'error'`; never throws, never logs by itself. */
  private report(error: HubError): void {
    this.counters.errors++;
    this.errorsBySource.set(error.source, (this.errorsBySource.get(error.source) ?? 0) + 1);
    this.notifier.emit('error', error);
  }

  /**
   * Registers an observer of the hub's timings (auth, `canWatch`, delivery
   * of each call); returns a function that removes it. See {@link HubObserver}.
   */
  observe(observer: HubObserver): () => void {
    if (typeof observer !== 'object' || observer === null) {
      throw new TypeError(`wshub: observe() needs an object with optional timing methods, got ${observer === null ? 'null' : typeof observer}`);
    }
    return this.observers.add(observer);
  }

  // ------------------------------------------------------------- transport

  /**
   * Whether a transport should accept another connection now: the hub is
   * not closing and fewer than `limits.maxPendingSockets` handshakes are
   * pending. `WsHub` answers HTTP 503 otherwise, before any WebSocket exists.
   */
  get acceptsConnections(): boolean {
    return this.closing === undefined && this.pendingCount < this.config.limits.maxPendingSockets;
  }

  /**
   * The `allowedOrigins` rule for a connection's `Origin` header (`undefined`
   * when there is none). A function that throws refuses, and is reported.
   * `WsHub` answers HTTP 403 when this is false.
   */
  allowsOrigin(origin: string | undefined): boolean {
    if (!this.allowOrigin) return true;
    try {
      return this.allowOrigin(origin) === true;
    } catch (error) {
      this.report(HubError.from('allowedOrigins', error));
      return false;
    }
  }

  /**
   * A transport accepted a connection: the hub adds its fields to `socket`,
   * emits `'connected'` and runs `authenticate`. The transport reports the
   * connection's frames and its end through the returned session.
   */
  open(options: OpenOptions<S>): Session {
    const { socket, connection, request } = options;
    const session = new SocketSession<User, S>(this.sessionHost, socket, connection, options.protocol === 'wshub');
    decorateSocket(socket, session);
    this.sessions.add(session);
    this.pendingCount++;
    if (this.closing) {
      session.close(CloseCode.GoingAway);
      return session;
    }
    const view = socket as HubSocket<User, S>;
    this.notifier.emit('connected', { socket: view, request });
    if (session.phase !== 'pending') return session; // a 'connected' handler closed it
    const started = this.observers.active ? performance.now() : 0;
    runHandshake(session, this.authenticate, request, this.config.authTimeoutMs, (outcome) => {
      if (started !== 0) {
        this.observers.call('authSettled', secondsSince(started), outcome.kind === 'accepted' ? 'accepted' : outcome.kind);
      }
      if (outcome.kind === 'accepted') whenPositionKnown(this.ctx, session, () => settleHandshake(this.ctx, session, outcome));
      else settleHandshake(this.ctx, session, outcome);
    });
    return session;
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
   * is dropped (see {@link RecentIds}). Resolves with the message's id:
   * `options.id`, else one the hub made (what receipts report).
   */
  async sendMessage(
    userId: string,
    event: string,
    data?: unknown,
    isWatchingOrPayload?: WatchFilterArg,
    options?: SendOptions,
  ): Promise<string> {
    assertUserId(userId);
    assertEvent(event);
    const filter = toDeliveryFilter(isWatchingOrPayload);
    const id = assertSendOptions(options);
    const messageId = id ?? this.makeId();
    if (id !== undefined && this.recentIds.has(id)) return messageId;
    const send = async (): Promise<string> => {
      const started = this.observers.active ? performance.now() : 0;
      const prepared = this.delivery.prepare(event, data);
      if (!prepared) return messageId;
      const tooBig = this.delivery.oversize(prepared);
      if (tooBig) throw tooBig;
      // Throws, before anything is delivered, when the broker's queue is full.
      const backlog = this.cluster.admit();
      const receipts = this.receipts;
      const message = receipts ? withReceipt(prepared, { id: messageId, origin: this.nodeId }) : prepared;
      receipts?.track(messageId, userId, event, data, filter);
      // A history over its bound of records in flight: the caller waits, at the pace the store answers.
      const room = this.cluster.sendToUser(userId, filter, message);
      if (id !== undefined) this.recentIds.add(id);
      if (room) await room;
      if (started !== 0) this.observers.call('delivered', secondsSince(started), 'send');
      if (backlog) await backlog;
      return messageId;
    };
    if (!this.tracing) return send();
    // With recovery the history delivers later, so the sockets reached are not known here.
    const countSockets = !this.cluster.history;
    return this.tracing.send('sendMessage', { event, userId, messageId: id, countSockets }, send);
  }

  /**
   * Sends `event` to every connected user, optionally only those `allow`
   * accepts, with `data` or a per-user `data(user)`. Callbacks run once per
   * user (not per socket), concurrently up to `limits.pushConcurrency`; one
   * that throws, rejects or does not settle within `pushTimeoutMs` skips
   * that user and is reported through `'error'`. With `options.id`, a
   * repeat of a recent id is dropped (see {@link RecentIds}). Resolves with
   * the message's id, as `sendMessage` does.
   */
  async push(
    event: string,
    data?: PushData<User>,
    allow?: PushAllow<User> | null,
    isWatchingOrPayload?: WatchFilterArg,
    options?: SendOptions,
  ): Promise<string> {
    assertEvent(event);
    if (allow !== undefined && allow !== null && typeof allow !== 'function') {
      throw new TypeError(`wshub: push "allow" must be a function, got ${typeof allow}`);
    }
    const filter = toDeliveryFilter(isWatchingOrPayload);
    const id = assertSendOptions(options);
    const messageId = id ?? this.makeId();
    if (id !== undefined && this.recentIds.has(id)) return messageId;
    const receipts = this.receipts;
    const send = async (): Promise<string> => {
      const started = this.observers.active ? performance.now() : 0;
      await runPush(
        {
          delivery: this.delivery,
          cluster: this.cluster,
          timeoutMs: this.config.pushTimeoutMs,
          concurrency: this.config.limits.pushConcurrency,
          report: (error) => {
            this.tracing?.recordError(error);
            this.report(error);
          },
          localRecipients: (e, f) => this.localRecipients(e, f),
          receipts: receipts && {
            tag: (message) => withReceipt(message, { id: messageId, origin: this.nodeId }),
            track: (userId, value) => receipts.track(messageId, userId, event, value, filter),
          },
        },
        event,
        data,
        allow,
        filter,
      );
      // After the push, so one refused before delivering anything (a full broker queue) can be sent again.
      if (id !== undefined) this.recentIds.add(id);
      if (started !== 0) this.observers.call('delivered', secondsSince(started), 'push');
      return messageId;
    };
    if (!this.tracing) return send();
    // Only one shared message is written before the push's first await; callbacks run per user, later.
    const countSockets = !this.cluster.history && typeof data !== 'function' && !allow;
    return this.tracing.send('push', { event, messageId: id, countSockets }, send);
  }

  /** Local users that could receive `event` under `filter`, with the user object of their first such socket. */
  private *localRecipients(event: string, filter: DeliveryFilter): Iterable<[string, User]> {
    for (const [userId, room] of this.rooms.entries()) {
      for (const session of room) {
        if (matchesFilter(session, event, filter)) {
          yield [userId, session.user as User];
          break;
        }
      }
    }
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
    if (!this.tracing) return this.cluster.disconnect(userId, deviceFingerprint);
    return this.tracing.send('disconnect', { userId, countSockets: false }, async () =>
      this.cluster.disconnect(userId, deviceFingerprint),
    );
  }

  private disconnectLocal(userId: string, deviceFingerprint: string | undefined): void {
    const room = this.rooms.get(userId);
    if (!room) return;
    for (const session of [...room]) {
      if (deviceFingerprint === undefined || session.deviceFingerprint === deviceFingerprint) {
        session.close(CloseCode.DisconnectedByServer);
      }
    }
  }

  /** Replaces the user object on every socket of `user.id`, on every node. */
  async updateUser(user: User): Promise<void> {
    if (typeof user !== 'object' || user === null || typeof user.id !== 'string' || user.id === '') {
      throw new TypeError('wshub: updateUser(user) needs an object with a non-empty string "id"');
    }
    if (!this.tracing) return this.cluster.updateUser(user.id, user);
    return this.tracing.send('updateUser', { userId: user.id, countSockets: false }, async () =>
      this.cluster.updateUser(user.id, user),
    );
  }

  // ---------------------------------------------------------------- queries

  /** Ids of the users with at least one authorized socket on this node. */
  connectedUsers(): string[] {
    return this.rooms.userIds();
  }

  /** The authorized sockets of a user on this node. */
  socketsOf(userId: string): readonly HubSocket<User, S>[] {
    const room = this.rooms.get(userId);
    return room ? [...room].map((session) => session.socket as HubSocket<User, S>) : [];
  }

  /** Online users: cluster-wide with a distributed broker, else this node's. */
  onlineUsers(): Promise<string[]> {
    return this.cluster.onlineUsers();
  }

  isOnline(userId: string): Promise<boolean> {
    // No user has such an id, and in Redis it would name another user's presence.
    if (typeof userId === 'string' && !isWellFormed(userId)) return Promise.resolve(false);
    return this.cluster.isOnline(userId);
  }

  stats(): HubStats {
    return {
      connections: this.sessions.size,
      pending: this.pendingCount,
      users: this.rooms.size,
      receiptsPending: this.receipts?.pendingCount ?? 0,
      ...this.counters,
      errorsBySource: Object.fromEntries(this.errorsBySource),
      broker: this.cluster.broker.stats(),
    };
  }

  // -------------------------------------------------------------- shutdown

  get isClosing(): boolean {
    return this.closing !== undefined;
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
    this.closing ??= this.shutdown(drainMs);
    return this.closing;
  }

  private async shutdown(drainMs: number): Promise<void> {
    await closeSessions([...this.sessions], drainMs);
    this.ctx.resumeBudget?.close();
    this.receipts?.close();
    await this.cluster.close();
  }
}

/** Options of `hub.close()`. */
export interface CloseOptions {
  /** Spread the closing of sockets (with 1012) over this many ms. 0 closes all at once with 1001. */
  drainMs?: number;
}

