import { LocalBroker, type PresenceChange } from './broker.js';
import { ClusterSync } from './cluster-sync.js';
import type { OpenOptions, PreparedMessage, Session } from './connection.js';
import { Delivery } from './delivery.js';
import { type DeliveryFilter, matchesFilter, toDeliveryFilter, type WatchFilterArg } from './delivery-filter.js';
import { HubError } from './errors.js';
import { describeUserProblem, isWellFormed, runHandshake, type HandshakeOutcome } from './handshake.js';
import { TIMED_OUT, withDeadline } from './deadline.js';
import { type HubCounters, newCounters } from './hub-counters.js';
import type { HistoryEntry } from './history.js';
import { type HubObserver, Observers, secondsSince } from './hub-observer.js';
import { type Handler, Notifier } from './notifier.js';
import { type HubOptions, type HubRequest, type HubUser, type ResolvedOptions, resolveOptions } from './options.js';
import {
  ACK,
  type Ack,
  CloseCode,
  parseClientMessage,
  parsePosition,
  parseRequestId,
  EXPIRING,
  MAX_TOKEN_LENGTH,
  REFRESH,
  RESERVED_PREFIX,
  RESUME,
  UNWATCH,
  WATCH,
  WELCOME,
  type Welcome,
} from './protocol.js';
import { type PushAllow, type PushData, runPush } from './push.js';
import { assertSendOptions, RecentIds, type SendOptions } from './recent-ids.js';
import { ResumeBudget } from './resume-budget.js';
import { type SessionHost, SocketSession } from './socket-session.js';
import { createTracing, type Tracing } from './tracing.js';
import { UserRegistry } from './user-registry.js';
import { type CanWatch, Watches } from './watches.js';
import { WatchRegistry } from './watch-registry.js';

/**
 * The fields the hub adds to each socket object apps see: the shape of
 * `@kovalenko/nestjs-websocket`'s `AuthWebSocket`, read-only. The hub keeps
 * its own state; these read it.
 */
export interface HubSocketFields<User> {
  /** Unique connection id. */
  readonly id: string;
  /** The user's id (`user.id`): the room all that user's sockets share. Set once authorized. */
  readonly roomId: string;
  readonly deviceFingerprint: string;
  readonly user: User;
  /** The socket's watches (event → scopes, `null` for a wildcard), as a copy: changing it changes nothing. */
  readonly watching: Map<string, Set<string | null>>;
  /** Resolves `true` once authorized; `false` if auth fails or the socket closes first. Never hangs. */
  readonly isAuthorized: Promise<boolean>;
}

/** A transport's socket object with the hub's fields. */
export type HubSocket<User = HubUser, S extends object = object> = S & HubSocketFields<User>;

/** Payloads of the hub's notifications (`hub.on(name, handler)`). */
export type HubEvents<User, S> = {
  /** A socket was accepted, before `authenticate` ran. */
  connected: { socket: S; request: HubRequest };
  /** `authenticate` accepted the socket; it is registered and receives deliveries. */
  ready: { socket: S; user: User };
  /** A socket closed. `authorized` tells whether it had been `ready`. */
  disconnected: {
    socket: S;
    userId?: string;
    deviceFingerprint?: string;
    code: number;
    reason: string;
    authorized: boolean;
  };
  /** A valid client event other than watch/unwatch. */
  message: { socket: S; event: string; data: unknown };
  /** Errors from user callbacks and the broker; the hub never throws them at callers. */
  error: HubError;
  /**
   * A user came online (first socket anywhere in the cluster) or went
   * offline (last socket anywhere closed, or its node died). Emitted once
   * per change in the whole cluster, on one node.
   */
  presence: PresenceChange;
};

export interface HubStats extends HubCounters {
  /** Errors reported through `'error'`, by their `source` (`'canWatch'`, `'broker'`, …). */
  errorsBySource: Record<string, number>;
  /** Open sockets, authorized or not. */
  connections: number;
  /** Sockets whose `authenticate` is still pending. */
  pending: number;
  /** Distinct users with at least one socket on this node. */
  users: number;
  broker: Record<string, number>;
}

const kSession = Symbol('wshub.session');
type Decorated = { [kSession]: SocketSession };

/** Getters shared by every decorated socket (no closure per socket). */
const socketFields: PropertyDescriptorMap = {
  roomId: {
    get(this: Decorated) {
      return this[kSession].userId || undefined;
    },
    enumerable: true,
    configurable: true,
  },
  deviceFingerprint: {
    get(this: Decorated) {
      return this[kSession].deviceFingerprint || undefined;
    },
    enumerable: true,
    configurable: true,
  },
  user: {
    get(this: Decorated) {
      return this[kSession].user;
    },
    enumerable: true,
    configurable: true,
  },
  watching: {
    get(this: Decorated) {
      const copy = new Map<string, Set<string | null>>();
      for (const [event, scopes] of this[kSession].watching) copy.set(event, new Set(scopes));
      return copy;
    },
    enumerable: true,
    configurable: true,
  },
};

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
  private readonly refresh: HubOptions<User, HubSocket<User, S>>['refresh'];
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
  private readonly resumeBudget: ResumeBudget | undefined;
  private readonly recentIds = new RecentIds();
  private pendingCount = 0;
  private closing: Promise<void> | undefined;
  /** Undefined without `@opentelemetry/api`: no span is even attempted. */
  private readonly tracing: Tracing | undefined;

  constructor(options: HubOptions<User, HubSocket<User, S>>) {
    this.config = resolveOptions(options as HubOptions<HubUser, unknown>);
    this.authenticate = options.authenticate;
    this.refresh = options.refresh;
    const origins = options.allowedOrigins;
    if (typeof origins === 'function') this.allowOrigin = origins;
    else if (origins) {
      const list = new Set(origins);
      // Exact match only: no prefix/suffix tricks. Non-browser clients send no Origin.
      this.allowOrigin = (origin) => origin === undefined || list.has(origin);
    }
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
    this.cluster = new ClusterSync<User>(
      options.broker ?? new LocalBroker(),
      this.delivery,
      this.rooms,
      {
        disconnectLocal: (userId, deviceFingerprint) => this.disconnectLocal(userId, deviceFingerprint),
        presence: (change) => this.notifier.emit('presence', change),
        report,
        userOf: (session) => session.user as User,
      },
      this.config.recovery,
      this.tracing,
    );
    if (this.cluster.history) this.resumeBudget = new ResumeBudget(this.config.limits.resumesPerUser);
    this.sessionHost = {
      limits: this.config.limits,
      closeTimeoutMs: this.config.closeTimeoutMs,
      pauseTimeoutMs: this.config.pauseTimeoutMs,
      countIn: () => {
        this.counters.messagesIn++;
      },
      handleFrame: (session, text) => this.handleFrame(session as SocketSession<User, S>, text),
      leftPending: () => {
        this.pendingCount--;
      },
      ended: (session, code, reason) => this.ended(session as SocketSession<User, S>, code, reason),
    };
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
    Object.defineProperties(socket, {
      id: { value: session.id, enumerable: true, configurable: true },
      isAuthorized: { value: session.isAuthorized, enumerable: true, configurable: true },
      [kSession]: { value: session, configurable: true },
      ...socketFields,
    });
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
      if (outcome.kind === 'accepted') this.whenPositionKnown(session, () => this.settleHandshake(session, outcome));
      else this.settleHandshake(session, outcome);
    });
    return session;
  }

  /**
   * Runs `admit` once the history knows the position a v2 socket's welcome
   * gives (a shared history learns its epoch from its store after the hub
   * started), or after `authTimeoutMs` (the welcome then says the position is
   * unknown: epoch ""). Meanwhile the socket stays pending: its frames wait,
   * within the pending budget, and so does its resume.
   */
  private whenPositionKnown(session: SocketSession<User, S>, admit: () => void): void {
    const history = this.cluster.history;
    const known = session.v2 && history?.position().epoch === '' ? history.positionKnown?.() : undefined;
    if (!known) {
      admit();
      return;
    }
    const go = () => {
      clearTimeout(timer);
      if (session.phase === 'pending') admit();
    };
    const timer = setTimeout(go, this.config.authTimeoutMs);
    timer.unref();
    known.then(go, go);
  }

  private settleHandshake(session: SocketSession<User, S>, outcome: HandshakeOutcome<User>): void {
    if (outcome.kind === 'timeout') {
      this.counters.authTimeouts++;
      session.close(CloseCode.AuthTimeout);
      return;
    }
    if (outcome.kind === 'refused') {
      if (outcome.problem) {
        this.report(
          new HubError('authenticate', `wshub: authenticate resolved ${outcome.problem}; the socket was refused with 4403`),
        );
      }
      this.counters.authRejected++;
      // The reason is the app's business: the client gets a fixed token, never the error text.
      session.close(CloseCode.Forbidden);
      return;
    }
    const user = outcome.user;
    session.admit(user);
    if (this.rooms.add(user.id, session)) this.cluster.joined(user.id, user);
    this.limitSockets(user.id);
    if (session.phase !== 'ready') return;
    this.notifier.emit('ready', { socket: session.socket as HubSocket<User, S>, user });
    if (session.v2 && session.phase === 'ready') {
      const history = this.cluster.history;
      const welcome: Welcome = history ? { protocol: 2, recovery: history.position() } : { protocol: 2 };
      this.delivery.reply(session, WELCOME, welcome);
    }
    this.scheduleExpiry(session);
    session.flushPending();
  }

  /** More than `maxSocketsPerUser` sockets of one user here: the oldest goes, with 4409. */
  private limitSockets(userId: string): void {
    const room = this.rooms.get(userId);
    const max = this.config.limits.maxSocketsPerUser;
    if (!room || room.size <= max) return;
    let excess = room.size - max;
    for (const session of [...room]) {
      if (excess-- <= 0) break;
      session.close(CloseCode.TooManySockets);
    }
  }

  /** The session's `expiresAt`: closes it then (4401), and tells a v2 client ahead of time when it may refresh. */
  private scheduleExpiry(session: SocketSession<User, S>): void {
    const expiresAt = (session.user as HubUser | undefined)?.expiresAt;
    if (expiresAt !== undefined && (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt))) {
      this.report(new HubError('authenticate', `wshub: a user's "expiresAt" must be a number of ms since the epoch, got ${String(expiresAt)}; the session does not expire`));
      return;
    }
    const notice =
      session.v2 && this.refresh && expiresAt !== undefined
        ? () => this.delivery.reply(session, EXPIRING, { expiresAt })
        : undefined;
    session.expireAt(expiresAt, this.config.refreshAheadMs, notice);
  }

  private handleFrame(session: SocketSession<User, S>, text: string): Promise<void> | undefined {
    const frame = parseClientMessage(text);
    if (!frame.ok) {
      session.close(CloseCode.BadRequest, frame.reason);
      return undefined;
    }
    if (frame.event === WATCH) return this.watches.watch(session, frame.data, frame.id);
    if (frame.event === UNWATCH) {
      this.watches.unwatch(session, frame.data, frame.id);
      return undefined;
    }
    if (frame.event === RESUME && session.v2) return this.resume(session, frame.data, frame.id);
    if (frame.event === REFRESH && session.v2) return this.refreshSession(session, frame.data, frame.id);
    this.notifier.emit('message', { socket: session.socket as HubSocket<User, S>, event: frame.event, data: frame.data });
    return undefined;
  }

  /**
   * A v2 client asks for what it missed since its position: the messages of
   * its user (and broadcasts) after that offset that pass its watches now,
   * in order, each with its offset; then the answer, with the position to
   * keep. A position the history cannot serve in full gets `failed`, never
   * part of it.
   */
  private resume(session: SocketSession<User, S>, data: unknown, rawId: unknown): Promise<void> | undefined {
    const id = parseRequestId(rawId);
    const answer = (fields: Omit<Ack, 'op' | 'id'>) => {
      const ack: Ack = id === undefined || id === false ? { op: 'resume', ...fields } : { id, op: 'resume', ...fields };
      this.delivery.reply(session, ACK, ack);
    };
    if (id === false) {
      answer({ status: 'invalid', message: 'resume "id" must be a non-negative integer or a string of at most 64 characters' });
      return undefined;
    }
    const history = this.cluster.history;
    if (!history) {
      answer({ status: 'unavailable' });
      return undefined;
    }
    // One replay per connection: what a reconnect needs, and no way to make the hub replay its history in a loop.
    if (session.resumed) {
      answer({ status: 'invalid', message: 'resume was already answered on this connection' });
      return undefined;
    }
    const position = parsePosition(data);
    if (!position) {
      // Answered without using up the connection's one resume: the client may send a valid one.
      answer({ status: 'invalid', message: 'resume "data" must be { "epoch": string, "offset": non-negative integer }' });
      return undefined;
    }
    session.resumed = true;
    // Taken before the read: a shared history may deliver newer messages meanwhile, which the client sorts after.
    const current = history.position();
    // Reconnecting does not buy another replay: the budget is the user's, on this node.
    if (!this.resumeBudget?.take(session.userId)) {
      this.counters.resumeFailed++;
      const max = this.config.limits.resumesPerUser;
      answer({ status: 'failed', missed: 0, ...current, message: `this user's resumes passed limits.resumesPerUser (${max} a minute)` });
      return undefined;
    }
    const replay = (entries: HistoryEntry[] | undefined) => {
      if (session.phase !== 'ready') return;
      if (!entries) {
        this.counters.resumeFailed++;
        answer({ status: 'failed', missed: 0, ...current });
        return;
      }
      let last = current.offset;
      let bytes = 0;
      const messages: PreparedMessage[] = [];
      for (const entry of entries) {
        last = Math.max(last, entry.offset);
        if (!matchesFilter(session, entry.event, entry.filter)) continue;
        const message = this.delivery.withOffset(this.delivery.wrap(entry.event, entry.text), entry.offset);
        bytes += message.v2!.byteLength;
        messages.push(message);
      }
      // A replay is written in one turn: past the slow-consumer limit, a client that
      // does not read could make the hub hold its whole history per socket.
      const max = this.config.limits.maxBufferedBytes;
      if (bytes > max) {
        this.counters.resumeFailed++;
        answer({ status: 'failed', missed: 0, ...current, message: `the replay would be ${bytes} bytes, more than limits.maxBufferedBytes (${max})` });
        return;
      }
      for (const message of messages) this.delivery.write(session, message);
      this.counters.resumed++;
      answer({ status: 'recovered', missed: messages.length, epoch: current.epoch, offset: last });
    };
    let entries: ReturnType<typeof history.read>;
    try {
      entries = history.read(session.userId, position);
    } catch (error) {
      this.report(HubError.from('broker', error, 'a resume was answered failed'));
      replay(undefined);
      return undefined;
    }
    if (!isPromise(entries)) {
      replay(entries);
      return undefined;
    }
    return entries.then(replay, (error) => {
      this.report(HubError.from('broker', error, 'a resume was answered failed'));
      replay(undefined);
    });
  }

  /**
   * A v2 client sends a fresh token before its session expires. The
   * `refresh` hook decides: the same user with a new `expiresAt` goes on
   * (watches, rooms and history stay); anything else closes with 4403. A
   * user whose claims changed too replaces the user on every socket of that
   * user, on every node, as `updateUser` does.
   */
  private refreshSession(session: SocketSession<User, S>, data: unknown, rawId: unknown): Promise<void> | undefined {
    const id = parseRequestId(rawId);
    const answer = (fields: Omit<Ack, 'op' | 'id'>) => {
      const ack: Ack = id === undefined || id === false ? { op: 'refresh', ...fields } : { id, op: 'refresh', ...fields };
      this.delivery.reply(session, ACK, ack);
    };
    const hook = this.refresh;
    if (!hook) {
      answer({ status: 'unavailable' });
      return undefined;
    }
    const token = (data as { token?: unknown } | null)?.token;
    if (id === false || typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      answer({ status: 'invalid', message: `refresh "data.token" must be a string of 1 to ${MAX_TOKEN_LENGTH} characters, and "id" a request id` });
      return undefined;
    }
    const current = session.user as User;
    const refuse = (error?: HubError) => {
      if (error) this.report(error);
      this.counters.authRejected++;
      session.close(CloseCode.Forbidden);
    };
    const accept = (user: unknown) => {
      if (session.phase !== 'ready') return;
      const problem = describeUserProblem(user);
      if (problem) return refuse(new HubError('refresh', `wshub: refresh resolved ${problem}; the socket was closed with 4403`));
      const next = user as User;
      if (next.id !== current.id) {
        return refuse(new HubError('refresh', `wshub: refresh resolved user "${next.id}" for a socket of user "${current.id}"; the socket was closed with 4403`));
      }
      session.user = next;
      // New claims (a role taken away) must reach the user's other sockets and the cluster's
      // presence, which push callbacks on other nodes read: as updateUser does.
      if (claimsChanged(current, next)) this.cluster.updateUser(next.id, next);
      this.scheduleExpiry(session);
      answer(next.expiresAt === undefined ? { status: 'refreshed' } : { status: 'refreshed', expiresAt: next.expiresAt });
    };
    let result: User | Promise<User>;
    try {
      result = hook({ token, user: current, socket: session.socket as HubSocket<User, S> });
    } catch {
      // The app's reason stays the app's: a refused refresh is 4403, as at connect.
      refuse();
      return undefined;
    }
    if (!isPromise(result)) {
      accept(result);
      return undefined;
    }
    const timeoutMs = this.config.authTimeoutMs;
    return withDeadline(result, timeoutMs).then(
      (user) => {
        if (user === TIMED_OUT) {
          refuse(new HubError('refresh', `wshub: refresh did not answer within ${timeoutMs} ms; the socket was closed with 4403`));
        } else {
          accept(user);
        }
      },
      () => refuse(),
    );
  }

  private ended(session: SocketSession<User, S>, code: number, reason: string): void {
    this.sessions.delete(session);
    const authorized = session.authorized;
    if (authorized) {
      this.watches.removeAll(session);
      if (this.rooms.remove(session.userId, session)) this.cluster.left(session.userId);
    }
    this.notifier.emit('disconnected', {
      socket: session.socket as HubSocket<User, S>,
      userId: authorized ? session.userId : undefined,
      deviceFingerprint: authorized ? session.deviceFingerprint : undefined,
      ...session.closeInfo(code, reason),
      authorized,
    });
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
   * is dropped (see {@link RecentIds}).
   */
  async sendMessage(
    userId: string,
    event: string,
    data?: unknown,
    isWatchingOrPayload?: WatchFilterArg,
    options?: SendOptions,
  ): Promise<void> {
    assertUserId(userId);
    assertEvent(event);
    const filter = toDeliveryFilter(isWatchingOrPayload);
    const id = assertSendOptions(options);
    if (id !== undefined && this.recentIds.has(id)) return;
    const send = async (): Promise<void> => {
      const started = this.observers.active ? performance.now() : 0;
      const message = this.delivery.prepare(event, data);
      if (!message) return;
      const tooBig = this.delivery.oversize(message);
      if (tooBig) throw tooBig;
      // Throws, before anything is delivered, when the broker's queue is full.
      const backlog = this.cluster.admit();
      // A history over its bound of records in flight: the caller waits, at the pace the store answers.
      const room = this.cluster.sendToUser(userId, filter, message);
      if (id !== undefined) this.recentIds.add(id);
      if (room) await room;
      if (started !== 0) this.observers.call('delivered', secondsSince(started), 'send');
      if (backlog) await backlog;
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
   * repeat of a recent id is dropped (see {@link RecentIds}).
   */
  async push(
    event: string,
    data?: PushData<User>,
    allow?: PushAllow<User> | null,
    isWatchingOrPayload?: WatchFilterArg,
    options?: SendOptions,
  ): Promise<void> {
    assertEvent(event);
    if (allow !== undefined && allow !== null && typeof allow !== 'function') {
      throw new TypeError(`wshub: push "allow" must be a function, got ${typeof allow}`);
    }
    const filter = toDeliveryFilter(isWatchingOrPayload);
    const id = assertSendOptions(options);
    if (id !== undefined && this.recentIds.has(id)) return;
    const send = async (): Promise<void> => {
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
        },
        event,
        data,
        allow,
        filter,
      );
      // After the push, so one refused before delivering anything (a full broker queue) can be sent again.
      if (id !== undefined) this.recentIds.add(id);
      if (started !== 0) this.observers.call('delivered', secondsSince(started), 'push');
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
      return Promise.reject(new TypeError(`wshub: close() "drainMs" must be a non-negative integer, got ${String(drainMs)}`));
    }
    this.closing ??= this.shutdown(drainMs);
    return this.closing;
  }

  private async shutdown(drainMs: number): Promise<void> {
    const open = [...this.sessions];
    // Tracked by the hub itself, not through 'disconnected': a handler can neither miss nor block it.
    const gone = open.map((session) => session.whenClosed());
    if (drainMs === 0) {
      for (const session of open) session.close(CloseCode.GoingAway);
    } else {
      await spread(open, drainMs, (session) => session.close(CloseCode.ServiceRestart));
    }
    await Promise.all(gone);
    this.resumeBudget?.close();
    await this.cluster.close();
  }
}

/** Options of `hub.close()`. */
export interface CloseOptions {
  /** Spread the closing of sockets (with 1012) over this many ms. 0 closes all at once with 1001. */
  drainMs?: number;
}

/** Calls `each` for every item, in slices of about 20 ms spread evenly over `ms`. */
async function spread<T>(items: T[], ms: number, each: (item: T) => void): Promise<void> {
  const slices = Math.max(1, Math.min(items.length, Math.ceil(ms / 20)));
  const perSlice = Math.ceil(items.length / slices);
  for (let slice = 0; slice < slices; slice++) {
    for (const item of items.slice(slice * perSlice, (slice + 1) * perSlice)) each(item);
    if (slice < slices - 1) await new Promise((resolve) => setTimeout(resolve, ms / slices));
  }
}

/** Whether a refreshed user differs from the one before in more than its `expiresAt`. */
function claimsChanged(before: HubUser, after: HubUser): boolean {
  try {
    return JSON.stringify({ ...before, expiresAt: undefined }) !== JSON.stringify({ ...after, expiresAt: undefined });
  } catch {
    // Not JSON (a cycle, a BigInt): assume it changed.
    return true;
  }
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function';
}

function assertName(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`wshub: "${name}" must be a non-empty string, got ${value === '' ? 'an empty string' : typeof value}`);
  }
}

/** A user id no user can have (see {@link isWellFormed}) would reach the channel of another in Redis: refused. */
function assertUserId(userId: unknown): void {
  assertName('userId', userId);
  if (!isWellFormed(userId as string)) {
    throw new TypeError('wshub: "userId" must be well-formed UTF-16, got a string with a lone surrogate');
  }
}

function assertEvent(event: unknown): void {
  assertName('event', event);
  if ((event as string).startsWith(RESERVED_PREFIX)) {
    throw new TypeError(`wshub: event names starting with "${RESERVED_PREFIX}" are the protocol's own, got "${event}"`);
  }
}

