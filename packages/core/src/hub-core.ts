import { randomBytes, randomUUID } from 'node:crypto';
import mitt, { type Emitter, type Handler } from 'mitt';
import { type Broker, type BrokerNode, type Envelope, LocalBroker, type PresenceChange } from './broker.js';
import { type DeliveryFilter, matchesFilter, toDeliveryFilter, type WatchFilterArg } from './delivery-filter.js';
import { HubError } from './errors.js';
import { type HubOptions, type HubRequest, type HubUser, type ResolvedOptions, resolveOptions } from './options.js';
import {
  CloseCode,
  CloseReason,
  EXCEPTION,
  parseClientMessage,
  parseWatchBody,
  QUEUE_LIMIT_REASON,
  RATE_LIMIT_REASON,
  UNWATCH,
  WATCH,
} from './protocol.js';
import { TIMED_OUT, withDeadline } from './deadline.js';
import { runBounded } from './run-bounded.js';
import { UserRegistry } from './user-registry.js';
import { WatchRegistry } from './watch-registry.js';

/**
 * The little a transport socket must offer the hub. A `ws` WebSocket has it
 * as is; `@wshub/testing`'s fake socket implements it without a network.
 */
export interface TransportSocket {
  /** 0 connecting, 1 open, 2 closing, 3 closed (the WebSocket values). */
  readonly readyState: number;
  /** Bytes queued for sending and not yet handed to the OS. */
  readonly bufferedAmount: number;
  send(data: string | Buffer): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  /**
   * Stops reading from the peer (TCP backpressure), and starts again. A
   * transport without them is closed with 4429 when its queue passes the
   * hard limit instead (see `limits.maxQueuedBytes`).
   */
  pause?(): void;
  resume?(): void;
}

/** Fields the hub adds to every socket: the seed module's `AuthWebSocket` shape. */
export interface HubSocketFields<User> {
  /** Unique connection id. */
  id: string;
  /** The user's id (`user.id`): the room all that user's sockets share. Set once authorized. */
  roomId: string;
  deviceFingerprint: string;
  user: User;
  /** Active watches: event → scopes, `null` for a wildcard watch. */
  watching: Map<string, Set<string | null>>;
  /** Resolves `true` once authorized; `false` if auth fails or the socket closes first. Never hangs. */
  isAuthorized: Promise<boolean>;
}

export type HubSocket<User = HubUser, T extends TransportSocket = TransportSocket> = T & HubSocketFields<User>;

/** A message encoded once, written to many sockets. */
export interface PreparedMessage {
  readonly event: string;
  /** The exact frame text: `{"event":…,"data":…}`. */
  readonly text: string;
  /** UTF-8 length of `text`. */
  readonly byteLength: number;
  /** True for the hub's own reply to one socket (forbidden watch, exception), false for deliveries. */
  readonly reply: boolean;
  /** Transports cache their encoded form here (e.g. a WebSocket frame), built on first write. */
  encoded?: unknown;
}

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

export interface HubStats {
  /** Open sockets, authorized or not. */
  connections: number;
  /** Sockets whose `authenticate` is still pending. */
  pending: number;
  /** Distinct users with at least one socket on this node. */
  users: number;
  messagesIn: number;
  messagesOut: number;
  bytesOut: number;
  /** Deliveries not written: socket not open, write failed, or cut off as a slow consumer. */
  dropped: number;
  authRejected: number;
  authTimeouts: number;
  slowConsumers: number;
  errors: number;
  broker: Record<string, number>;
}

type Phase = 'pending' | 'ready' | 'closing' | 'closed';

/** Per-socket bookkeeping the public shape does not show. */
interface SocketState {
  phase: Phase;
  pending: string[];
  /** How many of `pending` are small watch/unwatch frames (budgeted apart, see `receive`). */
  pendingWatches: number;
  /** Bytes of `pending`. */
  pendingBytes: number;
  /** Frames (and their bytes) waiting behind an unfinished async watch check. */
  queued: number;
  queuedBytes: number;
  /** The hub stopped reading this socket until its queue drains. */
  paused: boolean;
  /** Token bucket of `limits.messageRate`: tokens left, and when they were counted. */
  tokens: number;
  tokensAt: number;
  /** Called once the transport reports the socket closed (`close()` waits on it). */
  onClosed: Array<() => void> | undefined;
  /** Tail of the frames being processed in order (watch checks may be async). */
  chain: Promise<void> | null;
  authTimer: ReturnType<typeof setTimeout> | undefined;
  /** Terminates a socket the hub closed that has not answered within `closeTimeoutMs`. */
  closeTimer: ReturnType<typeof setTimeout> | undefined;
  resolveAuth: (value: boolean) => void;
  /** Close code the hub chose, reported even when the peer never saw it (e.g. 4008). */
  closeCode: number | undefined;
  /** Reason sent with `closeCode`, when it is not the code's fixed token. */
  closeReason: string | undefined;
  /** Answered the last ping. */
  alive: boolean;
  /** Was admitted (`'ready'` emitted). */
  authorized: boolean;
}

const kState = Symbol('wshub.state');
type Internal<S> = S & { [kState]: SocketState };

const OPEN = 1;
const RESOLVED = Promise.resolve();
/** Largest watch/unwatch frame that counts against the pre-auth watch budget instead of `maxPendingMessages`. */
const MAX_PENDING_WATCH_BYTES = 1024;

function isWatchFrame(text: string): boolean {
  const frame = parseClientMessage(text);
  return frame.ok && (frame.event === WATCH || frame.event === UNWATCH);
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/** Push data: a value, or a callback run once per user (spelled out so the callback's `user` is typed). */
export type PushData<User> = ((user: User) => unknown) | string | number | boolean | object | null | undefined;
export type PushAllow<User> = (user: User) => boolean | Promise<boolean>;

/**
 * The hub's logic, independent of any transport: handshake, per-user rooms,
 * watch rules, the protocol and delivery. `WsHub` adapts `ws` to it; the
 * fakes of `@wshub/testing` adapt an in-memory socket, so both run the same
 * rules.
 *
 * A transport calls {@link accept} for each new socket, {@link receive} for
 * each frame and {@link closed} when the socket closes; the hub writes with
 * {@link writeFrame}.
 */
export abstract class HubCore<User extends HubUser, T extends TransportSocket> {
  /** Unique per hub instance (used by brokers to drop their own publishes). */
  readonly nodeId: string = randomUUID();
  protected readonly config: ResolvedOptions;
  protected readonly broker: Broker;
  /** Every accepted socket, authorized or not. */
  protected readonly sockets = new Set<HubSocket<User, T>>();
  protected readonly rooms = new UserRegistry<HubSocket<User, T>>();
  protected readonly watches = new WatchRegistry<HubSocket<User, T>>();
  private readonly emitter: Emitter<HubEvents<User, HubSocket<User, T>>> = mitt();
  private readonly hooks: Pick<HubOptions<User, HubSocket<User, T>>, 'authenticate' | 'canWatch' | 'serialize'>;
  private closing: Promise<void> | undefined;
  /** Sockets in the 'pending' phase (kept as a count: `maxPendingSockets` is checked per upgrade). */
  private pendingCount = 0;
  private readonly counters = {
    messagesIn: 0,
    messagesOut: 0,
    bytesOut: 0,
    dropped: 0,
    authRejected: 0,
    authTimeouts: 0,
    slowConsumers: 0,
    errors: 0,
  };

  constructor(options: HubOptions<User, HubSocket<User, T>>) {
    this.config = resolveOptions(options as HubOptions<HubUser, unknown>);
    this.hooks = { authenticate: options.authenticate, canWatch: options.canWatch, serialize: options.serialize };
    this.broker = options.broker ?? new LocalBroker();
    const node: BrokerNode = {
      nodeId: this.nodeId,
      deliver: (envelope) => this.applyEnvelope(envelope),
      localUsers: () => this.localUsers(true),
      reportError: (error) => this.report(HubError.from('broker', error)),
      presence: (change) => this.emit('presence', change),
    };
    this.broker.attach(node);
  }

  // ---------------------------------------------------------------- events

  on<K extends keyof HubEvents<User, HubSocket<User, T>>>(
    name: K,
    handler: Handler<HubEvents<User, HubSocket<User, T>>[K]>,
  ): this {
    this.emitter.on(name, handler);
    return this;
  }

  off<K extends keyof HubEvents<User, HubSocket<User, T>>>(
    name: K,
    handler?: Handler<HubEvents<User, HubSocket<User, T>>[K]>,
  ): this {
    this.emitter.off(name, handler);
    return this;
  }

  /**
   * Calls each handler on its own: one that throws is reported through
   * `'error'` and the others still run (mitt's `emit` would stop at the first
   * throw). The list is copied first, so handlers may add or remove handlers.
   */
  private emit<K extends keyof HubEvents<User, HubSocket<User, T>>>(
    name: K,
    payload: HubEvents<User, HubSocket<User, T>>[K],
  ): void {
    const handlers = this.emitter.all.get(name);
    if (!handlers || handlers.length === 0) return;
    for (const handler of handlers.slice()) {
      try {
        (handler as Handler<HubEvents<User, HubSocket<User, T>>[K]>)(payload);
      } catch (error) {
        if (name !== 'error') this.report(HubError.from(`'${String(name)}' handler`, error));
      }
    }
  }

  /** Reports an error through `'error'`; never throws, never logs by itself. */
  protected report(error: HubError): void {
    this.counters.errors++;
    this.emit('error', error);
  }

  // ------------------------------------------------------------- transport

  /** A transport accepted a socket: decorate it, emit `'connected'`, run `authenticate`. */
  protected accept(raw: T, request: HubRequest): HubSocket<User, T> {
    const socket = raw as Internal<HubSocket<User, T>>;
    // Hex from bytes is one flat string (~60 B); a UUID string is kept in pieces (~490 B per socket).
    socket.id = randomBytes(16).toString('hex');
    socket.watching = new Map();
    let resolveAuth!: (value: boolean) => void;
    socket.isAuthorized = new Promise<boolean>((resolve) => {
      resolveAuth = resolve;
    });
    const state: SocketState = {
      phase: 'pending',
      pending: [],
      pendingWatches: 0,
      pendingBytes: 0,
      queued: 0,
      queuedBytes: 0,
      paused: false,
      tokens: this.config.limits.messageBurst,
      tokensAt: 0,
      onClosed: undefined,
      chain: null,
      authTimer: undefined,
      closeTimer: undefined,
      resolveAuth,
      closeCode: undefined,
      closeReason: undefined,
      alive: true,
      authorized: false,
    };
    socket[kState] = state;
    this.sockets.add(socket);
    this.pendingCount++;
    if (this.closing) {
      this.closeSocket(socket, CloseCode.GoingAway);
      return socket;
    }
    this.emit('connected', { socket, request });
    if (state.phase !== 'pending') return socket; // a 'connected' handler closed it
    state.authTimer = setTimeout(() => {
      if (state.phase !== 'pending') return;
      this.counters.authTimeouts++;
      this.closeSocket(socket, CloseCode.AuthTimeout);
    }, this.config.authTimeoutMs);
    let result: User | Promise<User>;
    try {
      result = this.hooks.authenticate(request);
    } catch (error) {
      this.refuse(socket, error);
      return socket;
    }
    if (isThenable(result)) {
      Promise.resolve(result)
        .then(
          (user) => this.admit(socket, user),
          (error) => this.refuse(socket, error),
        )
        .catch((error) => this.report(HubError.from('handshake', error)));
    } else {
      this.admit(socket, result);
    }
    return socket;
  }

  private admit(socket: Internal<HubSocket<User, T>>, user: User): void {
    const state = socket[kState];
    if (state.phase !== 'pending') return; // closed or timed out meanwhile: the late answer is discarded
    const problem = describeUserProblem(user);
    if (problem) {
      this.report(new HubError('authenticate', `wshub: authenticate resolved ${problem}; the socket was refused with 4403`));
      this.refuse(socket, undefined);
      return;
    }
    clearTimeout(state.authTimer);
    state.authTimer = undefined;
    this.setPhase(state, 'ready');
    state.authorized = true;
    state.tokensAt = Date.now();
    socket.user = user;
    socket.roomId = user.id;
    socket.deviceFingerprint = user.deviceFingerprint;
    if (this.rooms.add(user.id, socket)) {
      this.toBroker(() => this.broker.userJoined(user.id, this.broker.distributed ? toPlain(user) : user));
    }
    state.resolveAuth(true);
    this.emit('ready', { socket, user });
    const queued = state.pending;
    state.pending = [];
    state.pendingBytes = 0;
    for (const text of queued) void this.enqueue(socket, text, Buffer.byteLength(text));
  }

  /** Moves a socket to `next`, keeping the count of pending sockets. */
  private setPhase(state: SocketState, next: Phase): void {
    if (state.phase === 'pending' && next !== 'pending') this.pendingCount--;
    state.phase = next;
  }

  /**
   * Whether another socket may start a handshake: fewer than
   * `limits.maxPendingSockets` are waiting for `authenticate`. Transports
   * refuse the upgrade otherwise (`WsHub` answers HTTP 503).
   */
  protected get acceptsPending(): boolean {
    return this.pendingCount < this.config.limits.maxPendingSockets;
  }

  private refuse(socket: Internal<HubSocket<User, T>>, _reason: unknown): void {
    const state = socket[kState];
    if (state.phase !== 'pending') return;
    this.counters.authRejected++;
    state.resolveAuth(false);
    // The reason is the app's business: the client gets a fixed token, never the error text.
    this.closeSocket(socket, CloseCode.Forbidden);
  }

  /**
   * A frame arrived. The returned promise settles when the frame has been
   * handled (fakes await it; `ws` ignores it). It never rejects.
   */
  protected receive(raw: HubSocket<User, T>, data: string | Buffer, isBinary: boolean): Promise<void> {
    const socket = raw as Internal<HubSocket<User, T>>;
    const state = socket[kState];
    if (!state || state.phase === 'closing' || state.phase === 'closed') return RESOLVED;
    this.counters.messagesIn++;
    if (isBinary) {
      this.closeSocket(socket, CloseCode.UnsupportedData);
      return RESOLVED;
    }
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (size > this.config.limits.maxPayload) {
      this.closeSocket(socket, CloseCode.MessageTooBig);
      return RESOLVED;
    }
    const text = typeof data === 'string' ? data : data.toString('utf8');
    if (state.phase === 'pending') {
      // A reconnecting client re-sends all its watches before it can know it is
      // authorized; small watch/unwatch frames get their own count budget (twice
      // maxWatchesPerSocket, 1 KiB each) so that never trips 4429.
      const { maxPendingMessages, maxPendingBytes, maxWatchesPerSocket } = this.config.limits;
      if (state.pendingBytes + size > maxPendingBytes) {
        this.closeSocket(socket, CloseCode.TooManyRequests);
      } else if (
        size <= MAX_PENDING_WATCH_BYTES &&
        state.pendingWatches < 2 * maxWatchesPerSocket &&
        isWatchFrame(text)
      ) {
        state.pendingWatches++;
        state.pendingBytes += size;
        state.pending.push(text);
      } else if (state.pending.length - state.pendingWatches >= maxPendingMessages) {
        this.closeSocket(socket, CloseCode.TooManyRequests);
      } else {
        state.pendingBytes += size;
        state.pending.push(text);
      }
      return socket.isAuthorized.then(() => state.chain ?? undefined);
    }
    if (!this.takeToken(state)) {
      this.closeSocket(socket, CloseCode.TooManyRequests, RATE_LIMIT_REASON);
      return RESOLVED;
    }
    return this.enqueue(socket, text, size);
  }

  /** One frame's worth of `limits.messageRate`; false when the bucket is empty. */
  private takeToken(state: SocketState): boolean {
    const { messageRate, messageBurst } = this.config.limits;
    if (messageRate === 0) return true;
    if (state.tokens < 1) {
      const now = Date.now();
      state.tokens = Math.min(messageBurst, state.tokens + ((now - state.tokensAt) * messageRate) / 1000);
      state.tokensAt = now;
      if (state.tokens < 1) return false;
    }
    state.tokens--;
    return true;
  }

  /**
   * Runs frames of one socket strictly in order, even when a watch check is
   * async. Frames that wait behind one are counted: past `maxQueuedBytes` or
   * `maxQueuedMessages` the socket stops being read until half has drained;
   * past four times either (a transport that cannot pause), it closes with 4429.
   */
  private enqueue(socket: Internal<HubSocket<User, T>>, text: string, size: number): Promise<void> {
    const state = socket[kState];
    let result: Promise<void> | undefined;
    if (state.chain) {
      state.queued++;
      state.queuedBytes += size;
      this.checkQueue(socket, state);
      result = state.chain.then(() => {
        state.queued--;
        state.queuedBytes -= size;
        if (state.paused) this.maybeResume(socket, state);
        return this.handleFrame(socket, text);
      });
    } else {
      result = this.handleFrame(socket, text);
    }
    if (!result) return RESOLVED;
    const tail: Promise<void> = result.then(() => {
      if (state.chain === tail) state.chain = null;
    });
    state.chain = tail;
    return tail;
  }

  private checkQueue(socket: Internal<HubSocket<User, T>>, state: SocketState): void {
    const { maxQueuedBytes, maxQueuedMessages } = this.config.limits;
    if (state.queuedBytes <= maxQueuedBytes && state.queued <= maxQueuedMessages) return;
    if (state.queuedBytes > 4 * maxQueuedBytes || state.queued > 4 * maxQueuedMessages) {
      this.closeSocket(socket, CloseCode.TooManyRequests, QUEUE_LIMIT_REASON);
      return;
    }
    if (!state.paused && typeof socket.pause === 'function') {
      state.paused = true;
      socket.pause();
    }
  }

  private maybeResume(socket: Internal<HubSocket<User, T>>, state: SocketState): void {
    const { maxQueuedBytes, maxQueuedMessages } = this.config.limits;
    if (state.queuedBytes > maxQueuedBytes / 2 || state.queued > maxQueuedMessages / 2) return;
    state.paused = false;
    if (state.phase === 'ready') socket.resume?.();
  }

  /** Whether the hub stopped reading this socket (a transport's heartbeat should not judge it then). */
  protected isPaused(socket: HubSocket<User, T>): boolean {
    return (socket as Internal<HubSocket<User, T>>)[kState]?.paused === true;
  }

  private handleFrame(socket: Internal<HubSocket<User, T>>, text: string): Promise<void> | undefined {
    if (socket[kState].phase !== 'ready') return undefined;
    const frame = parseClientMessage(text);
    if (!frame.ok) {
      this.closeSocket(socket, CloseCode.BadRequest, frame.reason);
      return undefined;
    }
    if (frame.event === WATCH) return this.watch(socket, frame.data);
    if (frame.event === UNWATCH) {
      const body = parseWatchBody(frame.data);
      if (!body.ok) this.sendException(socket, body.message.replace(/^watch/, 'unwatch'));
      else this.watches.remove(socket, body.event, body.payload);
      return undefined;
    }
    this.emit('message', { socket, event: frame.event, data: frame.data });
    return undefined;
  }

  private watch(socket: Internal<HubSocket<User, T>>, data: unknown): Promise<void> | undefined {
    const body = parseWatchBody(data);
    if (!body.ok) {
      this.sendException(socket, body.message);
      return undefined;
    }
    const { event, payload } = body;
    if (socket.watching.get(event)?.has(payload)) return undefined;
    const max = this.config.limits.maxWatchesPerSocket;
    if (this.watches.countOf(socket) >= max) {
      this.sendException(socket, `watch limit reached: a socket may hold at most ${max} watches`);
      return undefined;
    }
    const finish = (allowed: unknown) => {
      if (socket[kState].phase !== 'ready') return;
      if (allowed === true) {
        this.watches.add(socket, event, payload);
      } else {
        this.sendDirect(socket, WATCH, { event, payload, forbidden: true });
      }
    };
    const canWatch = this.hooks.canWatch;
    if (!canWatch) {
      finish(true);
      return undefined;
    }
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = canWatch({ user: socket.user, userId: socket.roomId, event, payload, socket });
    } catch (error) {
      this.report(HubError.from('canWatch', error));
      finish(false);
      return undefined;
    }
    if (!isThenable(verdict)) {
      finish(verdict);
      return undefined;
    }
    const timeoutMs = this.config.watchTimeoutMs;
    return withDeadline(verdict, timeoutMs).then(
      (allowed) => {
        if (allowed === TIMED_OUT) {
          const message = `wshub: canWatch did not answer within ${timeoutMs} ms (event "${event}"); the watch was refused`;
          this.report(new HubError('canWatch', message));
          finish(false);
        } else {
          finish(allowed);
        }
      },
      (error) => {
        this.report(HubError.from('canWatch', error));
        finish(false);
      },
    );
  }

  /** The transport saw the socket close (for any reason). */
  protected closed(raw: HubSocket<User, T>, code: number, reason: string): void {
    const socket = raw as Internal<HubSocket<User, T>>;
    const state = socket[kState];
    if (!state || state.phase === 'closed') return;
    const authorized = state.authorized;
    this.setPhase(state, 'closed');
    clearTimeout(state.authTimer);
    clearTimeout(state.closeTimer);
    state.pending = [];
    state.pendingBytes = 0;
    state.resolveAuth(false);
    this.sockets.delete(socket);
    if (authorized) {
      this.watches.removeSocket(socket);
      if (this.rooms.remove(socket.roomId, socket)) this.toBroker(() => this.broker.userLeft(socket.roomId));
    }
    const chosen = state.closeCode;
    // Before the handlers: a throwing 'disconnected' handler cannot hold up close().
    const waiting = state.onClosed;
    state.onClosed = undefined;
    if (waiting) for (const resolve of waiting) resolve();
    this.emit('disconnected', {
      socket,
      userId: authorized ? socket.roomId : undefined,
      deviceFingerprint: authorized ? socket.deviceFingerprint : undefined,
      code: chosen ?? code,
      reason: chosen !== undefined ? (state.closeReason ?? CloseReason[chosen as CloseCode] ?? reason) : reason,
      authorized,
    });
  }

  /** Resolves once the transport reported the socket closed. */
  private whenClosed(socket: HubSocket<User, T>): Promise<void> {
    const state = (socket as Internal<HubSocket<User, T>>)[kState];
    if (!state || state.phase === 'closed') return RESOLVED;
    return new Promise<void>((resolve) => {
      state.onClosed ??= [];
      state.onClosed.push(resolve);
    });
  }

  /** Closes a socket with one of the protocol's codes; the hub reports `code` in `'disconnected'`. */
  protected closeSocket(raw: HubSocket<User, T>, code: CloseCode, reason?: string): void {
    const socket = raw as Internal<HubSocket<User, T>>;
    const state = socket[kState];
    if (state.phase === 'closed') return;
    if (state.phase === 'pending') state.resolveAuth(false);
    if (state.phase !== 'closing') {
      state.closeCode = code;
      state.closeReason = reason;
    }
    this.setPhase(state, 'closing');
    clearTimeout(state.authTimer);
    state.pending = [];
    state.pendingBytes = 0;
    try {
      socket.close(code, reason ?? CloseReason[code]);
    } catch {
      socket.terminate();
      return;
    }
    // A peer that never answers the close frame is not read for long (it could keep sending).
    if (state.closeTimer === undefined) {
      state.closeTimer = setTimeout(() => socket.terminate(), this.config.closeTimeoutMs);
      state.closeTimer.unref?.();
    }
  }

  /** Marks a socket alive (it answered a ping); transports with a heartbeat use it. */
  protected markAlive(socket: HubSocket<User, T>, alive: boolean): boolean {
    const state = (socket as Internal<HubSocket<User, T>>)[kState];
    const was = state.alive;
    state.alive = alive;
    return was;
  }

  // -------------------------------------------------------------- delivery

  /**
   * Serializes and encodes a message once; `undefined` (and an `'error'`)
   * when that fails. Replies are the hub's own data and skip `serialize`.
   */
  protected prepare(event: string, data: unknown, reply = false): PreparedMessage | undefined {
    let text: string;
    try {
      const plain = !reply && this.hooks.serialize ? this.hooks.serialize(data) : data;
      text = JSON.stringify({ event, data: plain });
    } catch (error) {
      this.report(HubError.from('serialize', error, `event "${event}"`));
      return undefined;
    }
    return { event, text, byteLength: Buffer.byteLength(text), reply };
  }

  /**
   * Writes one prepared message to one socket. Only OPEN sockets are written
   * to. A socket that still has more than `maxBufferedBytes` undrained from
   * earlier turns is not reading: it is cut off (4008) instead, so one slow
   * reader cannot hold the hub's memory, while a burst to a reader never
   * trips it. Never throws.
   */
  protected deliver(socket: HubSocket<User, T>, message: PreparedMessage): void {
    if (socket.readyState !== OPEN) {
      this.counters.dropped++;
      return;
    }
    if (this.backlog(socket) > this.config.limits.maxBufferedBytes) {
      this.cutOff(socket);
      this.counters.dropped++;
      return;
    }
    try {
      this.writeFrame(socket, message);
    } catch (error) {
      this.counters.dropped++;
      this.report(HubError.from('write', error));
      return;
    }
    this.counters.messagesOut++;
    this.counters.bytesOut += message.byteLength;
  }

  /**
   * Bytes the peer has not drained, not counting what was written in the
   * current event-loop turn. The default is `bufferedAmount`; `WsHub` leaves
   * out the bytes of the current turn.
   */
  protected backlog(socket: HubSocket<User, T>): number {
    return socket.bufferedAmount;
  }

  /**
   * A message larger than `maxBufferedBytes` is not sent at all: the error
   * names the event and both sizes. Deliveries check it before any socket.
   */
  private oversize(message: PreparedMessage): RangeError | undefined {
    const max = this.config.limits.maxBufferedBytes;
    if (message.byteLength <= max) return undefined;
    return new RangeError(
      `wshub: message "${message.event}" is ${message.byteLength} bytes, more than limits.maxBufferedBytes (${max}); it was not sent`,
    );
  }

  /** The transport's write. The default sends the frame text; `WsHub` frames once per message. */
  protected writeFrame(socket: HubSocket<User, T>, message: PreparedMessage): void {
    socket.send(message.text);
  }

  /** A slow consumer: terminated without flushing, reported as 4008. */
  private cutOff(raw: HubSocket<User, T>): void {
    const socket = raw as Internal<HubSocket<User, T>>;
    const state = socket[kState];
    if (state.phase === 'closed') return;
    this.counters.slowConsumers++;
    state.closeCode = CloseCode.SlowConsumer;
    state.closeReason = undefined;
    this.setPhase(state, 'closing');
    socket.terminate();
  }

  private sendDirect(socket: HubSocket<User, T>, event: string, data: unknown): void {
    const message = this.prepare(event, data, true);
    if (message) this.deliver(socket, message);
  }

  private sendException(socket: HubSocket<User, T>, message: string): void {
    this.sendDirect(socket, EXCEPTION, { status: 'error', message });
  }

  private deliverToUser(userId: string, filter: DeliveryFilter, message: PreparedMessage): void {
    const room = this.rooms.get(userId);
    if (!room) return;
    for (const socket of room) {
      if (matchesFilter(socket, message.event, filter)) this.deliver(socket, message);
    }
  }

  private deliverToAll(filter: DeliveryFilter, message: PreparedMessage): void {
    if (filter === null) {
      for (const room of this.rooms.values()) for (const socket of room) this.deliver(socket, message);
      return;
    }
    for (const socket of this.watches.match(message.event, filter)) this.deliver(socket, message);
  }

  /**
   * Sends `data` as `event` to every socket of `userId` (on every node), or
   * only to the sockets that watch it when `isWatchingOrPayload` is given:
   * `true` → watching the event; a string/number → watching that scope or
   * the wildcard. `serialize` and `JSON.stringify` run once per call.
   */
  async sendMessage(userId: string, event: string, data?: unknown, isWatchingOrPayload?: WatchFilterArg): Promise<void> {
    assertName('userId', userId);
    assertName('event', event);
    const filter = toDeliveryFilter(isWatchingOrPayload);
    const message = this.prepare(event, data);
    if (!message) return;
    const tooBig = this.oversize(message);
    if (tooBig) throw tooBig;
    this.deliverToUser(userId, filter, message);
    if (this.broker.distributed) {
      this.toBroker(() =>
        this.broker.publishToUser(userId, { kind: 'send', userId, event, filter, message: message.text }),
      );
    }
  }

  /** Runs a broker call; a broker that throws is reported, never thrown at the hub's caller. */
  private toBroker(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.report(HubError.from('broker', error));
    }
  }

  /**
   * Sends `event` to every connected user, optionally only those `allow`
   * accepts, with `data` or a per-user `data(user)`. Callbacks run once per
   * user (not per socket), concurrently up to `limits.pushConcurrency`; one
   * that throws skips that user and is reported through `'error'`.
   */
  async push(
    event: string,
    data?: PushData<User>,
    allow?: PushAllow<User> | null,
    isWatchingOrPayload?: WatchFilterArg,
  ): Promise<void> {
    assertName('event', event);
    if (allow !== undefined && allow !== null && typeof allow !== 'function') {
      throw new TypeError(`wshub: push "allow" must be a function, got ${typeof allow}`);
    }
    const filter = toDeliveryFilter(isWatchingOrPayload);
    const perUser = typeof data === 'function' ? (data as (user: User) => unknown) : undefined;
    const shared = perUser ? undefined : this.prepare(event, data);
    if (!perUser && !shared) return;
    const tooBig = shared && this.oversize(shared);
    if (tooBig) throw tooBig;
    if (!perUser && !allow && shared) {
      this.deliverToAll(filter, shared);
      if (this.broker.distributed) {
        this.toBroker(() => this.broker.publishToAll({ kind: 'push', event, filter, message: shared.text }));
      }
      return;
    }
    const distributed = this.broker.distributed;
    const users = distributed ? await this.clusterUsers() : this.localRecipients(event, filter);
    const deliverTo = (userId: string, message: PreparedMessage) => {
      this.deliverToUser(userId, filter, message);
      if (distributed) {
        this.toBroker(() =>
          this.broker.publishToUser(userId, { kind: 'send', userId, event, filter, message: message.text }),
        );
      }
    };
    const timeoutMs = this.config.pushTimeoutMs;
    /** Settles a callback's promise within `pushTimeoutMs`; no answer skips the user. */
    const settle = <V>(source: string, userId: string, value: PromiseLike<V>, then: (v: V) => unknown) =>
      withDeadline(value, timeoutMs).then(
        (result) => {
          if (result !== TIMED_OUT) return then(result);
          const message = `wshub: ${source} callback did not answer within ${timeoutMs} ms (user "${userId}"); that user was skipped`;
          this.report(new HubError(source, message));
          return undefined;
        },
        (error) => this.report(HubError.from(source, error, `user "${userId}"`)),
      );
    const send = (userId: string, value: unknown) => {
      const message = this.prepare(event, value);
      if (!message) return;
      const tooBig = this.oversize(message);
      if (tooBig) this.report(HubError.from('push data', tooBig, `user "${userId}"`));
      else deliverTo(userId, message);
    };
    const withData = (userId: string, user: User): Promise<unknown> | undefined => {
      if (!perUser) {
        deliverTo(userId, shared!);
        return undefined;
      }
      let value: unknown;
      try {
        value = perUser(user);
      } catch (error) {
        this.report(HubError.from('push data', error, `user "${userId}"`));
        return undefined;
      }
      if (!isThenable(value)) return void send(userId, value);
      return settle('push data', userId, value, (resolved) => send(userId, resolved));
    };
    await runBounded(users, this.config.limits.pushConcurrency, ([userId, user]) => {
      if (!allow) return withData(userId, user);
      let verdict: boolean | Promise<boolean>;
      try {
        verdict = allow(user);
      } catch (error) {
        this.report(HubError.from('push allow', error, `user "${userId}"`));
        return undefined;
      }
      if (!isThenable(verdict)) return verdict === true ? withData(userId, user) : undefined;
      return settle('push allow', userId, verdict, (ok) => (ok === true ? withData(userId, user) : undefined));
    });
  }

  /** Local users that could receive `event` under `filter`, with the user object of their first socket. */
  private *localRecipients(event: string, filter: DeliveryFilter): Iterable<[string, User]> {
    for (const [userId, room] of this.rooms.entries()) {
      let first: HubSocket<User, T> | undefined;
      for (const socket of room) {
        if (matchesFilter(socket, event, filter)) {
          first = socket;
          break;
        }
      }
      if (first) yield [userId, first.user];
    }
  }

  /** Cluster-wide users for push callbacks; while the broker cannot answer, this node's users. */
  private async clusterUsers(): Promise<Array<[string, User]>> {
    try {
      return [...(await this.broker.users())] as Array<[string, User]>;
    } catch (error) {
      this.report(HubError.from('broker', error, 'push callbacks ran for this node only'));
      return [...this.localUsers(true)] as Array<[string, User]>;
    }
  }

  /**
   * Closes the sockets of `userId` with 4000 ("do not reconnect") on every
   * node: one device when `deviceFingerprint` is given, else all of them.
   */
  async disconnect(userId: string, deviceFingerprint?: string): Promise<void> {
    assertName('userId', userId);
    if (deviceFingerprint !== undefined && typeof deviceFingerprint !== 'string') {
      throw new TypeError(`wshub: "deviceFingerprint" must be a string, got ${typeof deviceFingerprint}`);
    }
    this.disconnectLocal(userId, deviceFingerprint);
    if (this.broker.distributed) {
      this.toBroker(() => this.broker.publishToUser(userId, { kind: 'disconnect', userId, deviceFingerprint }));
    }
  }

  private disconnectLocal(userId: string, deviceFingerprint: string | undefined): void {
    const room = this.rooms.get(userId);
    if (!room) return;
    for (const socket of [...room]) {
      if (deviceFingerprint === undefined || socket.deviceFingerprint === deviceFingerprint) {
        this.closeSocket(socket, CloseCode.DisconnectedByServer);
      }
    }
  }

  /** Replaces the user object on every socket of `user.id`, on every node. */
  async updateUser(user: User): Promise<void> {
    if (typeof user !== 'object' || user === null || typeof user.id !== 'string' || user.id === '') {
      throw new TypeError('wshub: updateUser(user) needs an object with a non-empty string "id"');
    }
    const room = this.rooms.get(user.id);
    if (room) for (const socket of room) socket.user = user;
    if (this.broker.distributed) {
      this.toBroker(() => {
        const plain = toPlain(user);
        if (room) this.broker.userUpdated(user.id, plain);
        this.broker.publishToUser(user.id, { kind: 'update', userId: user.id, user: plain });
      });
    }
  }

  /** Applies an envelope from another node. */
  private applyEnvelope(envelope: Envelope): void {
    switch (envelope.kind) {
      case 'send':
      case 'push': {
        const message = this.wrap(envelope.event, envelope.message);
        const tooBig = this.oversize(message);
        if (tooBig) this.report(HubError.from('broker', tooBig, 'a message from another node'));
        else if (envelope.kind === 'send') this.deliverToUser(envelope.userId, envelope.filter, message);
        else this.deliverToAll(envelope.filter, message);
        return;
      }
      case 'disconnect':
        this.disconnectLocal(envelope.userId, envelope.deviceFingerprint);
        return;
      case 'update': {
        const room = this.rooms.get(envelope.userId);
        if (!room) return;
        for (const socket of room) socket.user = envelope.user as User;
        this.toBroker(() => this.broker.userUpdated(envelope.userId, envelope.user));
        return;
      }
    }
  }

  private wrap(event: string, text: string): PreparedMessage {
    return { event, text, byteLength: Buffer.byteLength(text), reply: false };
  }

  // ---------------------------------------------------------------- queries

  /** Ids of the users with at least one authorized socket on this node. */
  connectedUsers(): string[] {
    return this.rooms.userIds();
  }

  /** The authorized sockets of a user on this node. */
  socketsOf(userId: string): readonly HubSocket<User, T>[] {
    const room = this.rooms.get(userId);
    return room ? [...room] : [];
  }

  /** Online users: cluster-wide with a distributed broker, else this node's. */
  async onlineUsers(): Promise<string[]> {
    return this.broker.distributed ? this.broker.onlineUsers() : this.connectedUsers();
  }

  async isOnline(userId: string): Promise<boolean> {
    return this.broker.distributed ? this.broker.isOnline(userId) : this.rooms.has(userId);
  }

  stats(): HubStats {
    return {
      connections: this.sockets.size,
      pending: this.pendingCount,
      users: this.rooms.size,
      ...this.counters,
      broker: this.broker.stats(),
    };
  }

  /** This node's users with one user object each; plain JSON copies when `plain`. */
  private localUsers(plain: boolean): Map<string, unknown> {
    const out = new Map<string, unknown>();
    for (const [userId, room] of this.rooms.entries()) {
      const first = room.values().next();
      if (!first.done) out.set(userId, plain ? toPlain(first.value.user) : first.value.user);
    }
    return out;
  }

  // -------------------------------------------------------------- shutdown

  get isClosing(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Closes every socket with 1001, stops timers and the broker. Clients that
   * do not answer the close frame within `closeTimeoutMs` (2 s) are
   * terminated. Upgrades that arrive while closing and after are refused.
   * Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Transport hook: stop accepting, stop timers. */
  protected abstract stopTransport(): void | Promise<void>;

  private async shutdown(): Promise<void> {
    await this.stopTransport();
    const open = [...this.sockets];
    // Tracked by the hub itself, not through 'disconnected': a handler can neither miss nor block it.
    const gone = open.map((socket) => this.whenClosed(socket));
    for (const socket of open) this.closeSocket(socket, CloseCode.GoingAway);
    const grace = setTimeout(() => {
      for (const socket of this.sockets) socket.terminate();
    }, this.config.closeTimeoutMs);
    await Promise.all(gone);
    clearTimeout(grace);
    try {
      await this.broker.close();
    } catch (error) {
      this.report(HubError.from('broker', error));
    }
  }
}

function assertName(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`wshub: "${name}" must be a non-empty string, got ${value === '' ? 'an empty string' : typeof value}`);
  }
}

function describeUserProblem(user: unknown): string | undefined {
  if (typeof user !== 'object' || user === null) return `${user === null ? 'null' : typeof user} instead of a user object`;
  const { id, deviceFingerprint } = user as Partial<HubUser>;
  if (typeof id !== 'string' || id === '') return `a user whose "id" is not a non-empty string (got ${typeof id})`;
  if (typeof deviceFingerprint !== 'string' || deviceFingerprint === '') {
    return `a user whose "deviceFingerprint" is not a non-empty string (got ${typeof deviceFingerprint})`;
  }
  return undefined;
}

/** User objects that travel between nodes are JSON. */
function toPlain(user: unknown): unknown {
  return JSON.parse(JSON.stringify(user));
}
