import { randomBytes } from 'node:crypto';
import type { Connection, Session } from './connection.js';
import type { HubLimits } from '../config/options.js';
import { Deadline, type DeadlineQueue } from '../util/deadline-queue.js';
import { PendingFrames } from './pending-frames.js';
import { SessionInput } from './session-input.js';
import { decorateSocket, type HubSocket } from './socket-fields.js';
import {
  CloseCode,
  CloseReason,
  QUEUE_LIMIT_REASON,
  QUEUE_TIMEOUT_REASON,
  RATE_LIMIT_REASON,
} from '../protocol/protocol.js';

/** pending → ready (authorized) → closing (the hub closed it) → closed (the transport said so). */
export type Phase = 'pending' | 'ready' | 'closing' | 'closed';

/** What a session needs from its hub. */
export interface SessionHost<User = unknown, S extends object = object> {
  readonly limits: Readonly<Required<HubLimits>>;
  readonly closeTimeoutMs: number;
  /** How long reads may stay paused before the socket is closed (4429). */
  readonly pauseTimeoutMs: number;
  /**
   * The hub's one timer for its sessions' clocks: expiries, handshakes
   * (`authTimeoutMs`), paused reads (`pauseTimeoutMs`) and closes
   * (`closeTimeoutMs`).
   */
  readonly deadlines: DeadlineQueue;
  /** Counts a frame received. */
  countIn(): void;
  /** Handles one frame of an authorized session; frames of a session arrive here one at a time, in order. */
  handleFrame(session: SocketSession<User, S>, text: string): Promise<void> | undefined;
  /** The session left the 'pending' phase (the hub keeps a count). */
  leftPending(): void;
  /** The transport reported the end of the connection. */
  ended(session: SocketSession<User, S>, code: number, reason: string): void;
}

/** What a new session is made of. */
export interface SessionOptions<User, S extends object> {
  readonly host: SessionHost<User, S>;
  /** The transport's socket object; the session adds the hub's fields to it. */
  readonly socket: S;
  readonly connection: Connection;
  /** Speaks protocol v2 (offered the `wshub` subprotocol). */
  readonly v2: boolean;
}

/** A session past `admit`: it has its user. The rooms hold only these. */
export type AdmittedSession<User, S extends object = object> = SocketSession<User, S> & { readonly user: User };

/**
 * A session's expiry as one entry of its host's deadline queue: first the
 * notice, when there is one, then the close with 4401. Its state is in
 * fields, so an expiring session holds no closure for it.
 */
class ExpiryDeadline extends Deadline {
  private expiresAt = 0;
  private notice: (() => void) | undefined;

  constructor(
    private readonly session: { close(code: CloseCode): void },
    private readonly queue: DeadlineQueue,
  ) {
    super();
  }

  /** Closes at `expiresAt`, calling `notice` at `noticeAt` first; replaces the schedule before. */
  schedule(expiresAt: number, noticeAt: number, notice: (() => void) | undefined): void {
    this.expiresAt = expiresAt;
    // A notice due with the expiry is never sent: the close comes first (as it did with a timer each).
    this.notice = noticeAt < expiresAt ? notice : undefined;
    this.queue.set(this, this.notice ? noticeAt : expiresAt);
  }

  override fire(): void {
    const notice = this.notice;
    if (notice === undefined) {
      this.session.close(CloseCode.SessionExpired);
      return;
    }
    this.notice = undefined;
    // The expiry is queued before the notice runs: a notice that fails cannot keep the session alive.
    this.queue.set(this, this.expiresAt);
    notice();
  }
}

/**
 * A closing session's end, as one entry of its host's deadline queue: a peer
 * that has not answered the close frame by then is terminated. Made when the
 * session closes; an open session holds none.
 */
class TerminateDeadline extends Deadline {
  constructor(private readonly connection: Connection) {
    super();
  }

  override fire(): void {
    this.connection.terminate();
  }
}

const RESOLVED = Promise.resolve();
/** `isAuthorized` of every session asked only once it was admitted, or closed unadmitted. */
const AUTHORIZED = Promise.resolve(true);
const UNAUTHORIZED = Promise.resolve(false);
/** `watching` of every session until its first watch. */
const NO_WATCHES: ReadonlyMap<string, Set<string | null>> = new Map();

/**
 * One connection as the hub holds it: its phase, its user and watches, and
 * its input path — frames kept before authorization (within their budget),
 * then handled strictly in order, with backpressure and a rate limit. The
 * rules of what a frame means live in the hub; this class only decides
 * when, and whether, a frame gets there.
 *
 * An idle session holds little: what only a sending, watching or closing
 * socket needs (the rate bucket and input queue, the frames kept before
 * authorization, the watch map, the `isAuthorized` promise) is made when
 * first needed.
 */
export class SocketSession<User = unknown, S extends object = object> implements Session {
  /** Unique connection id: hex from random bytes, one flat string (~60 B; a UUID string is ~490 B). */
  readonly id = randomBytes(16).toString('hex');
  /**
   * Active watches: event → scopes, `null` for a wildcard. Kept by
   * `WatchRegistry`, in step with its index, which makes it on the first
   * watch; apps see a copy.
   */
  watches: Map<string, Set<string | null>> | undefined;

  private state: Phase = 'pending';
  private currentUser: User | undefined;
  private room = '';
  private device = '';
  private admitted = false;
  private resumeTaken = false;
  /** Close code the hub chose, reported even when the peer never saw it (e.g. 4008). */
  private chosenCode: number | undefined;
  /** Reason sent with `chosenCode`, when it is not the code's fixed token. */
  private chosenReason: string | undefined;
  /** Its close waits for a promise, and nothing is written to it meanwhile (see {@link closeWhen}). */
  private holding = false;
  /** Ends a handshake that outlasts `authTimeoutMs`; in the host's deadline queue while pending. */
  private authClock: Deadline | undefined;
  /** `isAuthorized` as first asked while pending, and what settles it. */
  private authorized: Promise<boolean> | undefined;
  private resolveAuth: ((value: boolean) => void) | undefined;
  /** Frames kept before authorization, from the first one; dropped once the session leaves 'pending'. */
  private pending: PendingFrames | undefined;
  /** When `admit` ran (ms since the epoch): where the rate limit's refill starts. */
  private admittedAt = 0;
  /** The rate bucket and input queue, from the first frame handled. */
  private input: SessionInput | undefined;
  /** Terminates a peer that does not answer the close frame within `closeTimeoutMs`; in the host's deadline queue while closing. */
  private closeClock: TerminateDeadline | undefined;
  /** The session's expiry (the notice, then the close) in the host's deadline queue; made with its first expiry. */
  private expiry: ExpiryDeadline | undefined;
  private onClosed: Array<() => void> | undefined;

  /** The socket object apps see, with the hub's fields (`id`, `user`, `watching`, …). */
  readonly socket: HubSocket<User, S>;
  readonly connection: Connection;
  /** Speaks protocol v2 (offered the `wshub` subprotocol). */
  readonly v2: boolean;
  private readonly host: SessionHost<User, S>;

  constructor(options: SessionOptions<User, S>) {
    this.host = options.host;
    this.connection = options.connection;
    this.v2 = options.v2;
    this.socket = decorateSocket(options.socket, this);
  }

  /** Active watches (see {@link watches}); one shared empty map until the first. */
  get watching(): ReadonlyMap<string, Set<string | null>> {
    return this.watches ?? NO_WATCHES;
  }

  /** Resolves `true` once authorized; `false` if auth fails or the socket closes first. Never hangs. */
  get isAuthorized(): Promise<boolean> {
    if (this.authorized) return this.authorized;
    if (this.admitted) return AUTHORIZED;
    if (this.state !== 'pending') return UNAUTHORIZED;
    this.authorized = new Promise<boolean>((resolve) => {
      this.resolveAuth = resolve;
    });
    return this.authorized;
  }

  get phase(): Phase {
    return this.state;
  }

  /** The user `authenticate` gave, or the app's newer object for the same id; `undefined` until admitted. */
  get user(): User | undefined {
    return this.currentUser;
  }

  /** `user.id` once authorized: the room this session belongs to. */
  get userId(): string {
    return this.room;
  }

  get deviceFingerprint(): string {
    return this.device;
  }

  /** Was admitted (`'ready'` emitted), even if closed since: has its user. */
  isAdmitted(): this is AdmittedSession<User, S> {
    return this.admitted;
  }

  /** Sent its resume (one per connection). */
  get resumed(): boolean {
    return this.resumeTaken;
  }

  get paused(): boolean {
    return this.input?.paused ?? false;
  }

  get open(): boolean {
    return this.phase === 'pending' || this.phase === 'ready';
  }

  // ----------------------------------------------------------------- input

  receive(data: string | Buffer, isBinary: boolean): Promise<void> {
    if (!this.open) return RESOLVED;
    this.host.countIn();
    if (isBinary) {
      this.close(CloseCode.UnsupportedData);
      return RESOLVED;
    }
    const { limits } = this.host;
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    if (size > limits.maxPayload) {
      this.close(CloseCode.MessageTooBig);
      return RESOLVED;
    }
    const text = typeof data === 'string' ? data : data.toString('utf8');
    if (this.phase === 'pending') {
      this.pending ??= new PendingFrames(limits);
      if (!this.pending.keep(text, size)) this.close(CloseCode.TooManyRequests);
      return this.isAuthorized.then(() => this.input?.chain ?? undefined);
    }
    if (!this.inputState().rate.take()) {
      this.close(CloseCode.TooManyRequests, RATE_LIMIT_REASON);
      return RESOLVED;
    }
    return this.enqueue(text, size);
  }

  /**
   * Runs frames strictly in order, even when one is handled asynchronously.
   * Frames that wait are counted: past `maxQueuedBytes` or
   * `maxQueuedMessages` the connection stops being read until half has
   * drained; past four times either (a transport that cannot pause), it
   * closes with 4429. Reads paused for longer than `pauseTimeoutMs` close
   * it with 4429 too: a hook that answers slowly (each frame may wait
   * `watchTimeoutMs`) could otherwise keep a socket the heartbeat does not
   * judge for hours.
   */
  private enqueue(text: string, size: number): Promise<void> {
    const input = this.inputState();
    let result: Promise<void> | undefined;
    if (input.chain) {
      const { limits, pauseTimeoutMs, deadlines } = this.host;
      const over = input.wait(size, limits, this.connection, deadlines, pauseTimeoutMs, () => this.close(CloseCode.TooManyRequests, QUEUE_TIMEOUT_REASON));
      if (over) this.close(CloseCode.TooManyRequests, QUEUE_LIMIT_REASON);
      result = input.chain.then(() => {
        if (input.next(size, this.host.limits, deadlines) && this.phase === 'ready') this.connection.resume?.();
        return this.phase === 'ready' ? this.host.handleFrame(this, text) : undefined;
      });
    } else {
      result = this.host.handleFrame(this, text);
    }
    if (!result) return RESOLVED;
    const tail: Promise<void> = result.then(() => {
      if (input.chain === tail) input.chain = null;
    });
    input.chain = tail;
    return tail;
  }

  /** The rate bucket and input queue, made on the first frame handled (the bucket counts from admission). */
  private inputState(): SessionInput {
    this.input ??= new SessionInput(this.host.limits, this.admittedAt);
    return this.input;
  }

  // ------------------------------------------------------------ lifecycle

  /** Authorized as `user`: from now on frames are handled, the kept ones first, in order. */
  admit(user: User & { id: string; deviceFingerprint: string }): asserts this is AdmittedSession<User, S> {
    this.setPhase('ready');
    this.admitted = true;
    this.admittedAt = Date.now();
    this.currentUser = user;
    this.room = user.id;
    this.device = user.deviceFingerprint;
    this.resolveAuth?.(true);
  }

  /** The app gave a newer object for the same user (`updateUser`, `refresh`): what hooks and push callbacks see from now on. */
  replaceUser(user: User): void {
    this.currentUser = user;
  }

  /** Uses up the connection's one resume. */
  takeResume(): void {
    this.resumeTaken = true;
  }

  /** Calls `onTimeout` unless the handshake settles (`stopAuthClock`) within `timeoutMs`. */
  startAuthClock(timeoutMs: number, onTimeout: () => void): void {
    this.stopAuthClock();
    this.authClock = Deadline.of(onTimeout);
    this.host.deadlines.set(this.authClock, Date.now() + timeoutMs);
  }

  stopAuthClock(): void {
    if (this.authClock) this.host.deadlines.delete(this.authClock);
    this.authClock = undefined;
  }

  /**
   * Ends the session at `expiresAt` (ms since the epoch) with 4401, and
   * calls `notice` `aheadMs` before (at most half the remaining time). A
   * new schedule (after a refresh) replaces the old one; `undefined` clears it.
   * The session holds one entry of the host's deadline queue for both steps
   * (the notice, then the expiry), not a timer of its own.
   */
  expireAt(expiresAt: number | undefined, aheadMs: number, notice: (() => void) | undefined): void {
    if (expiresAt === undefined || !this.open) {
      this.stopExpiry();
      return;
    }
    const remaining = expiresAt - Date.now();
    if (remaining <= 0) {
      this.stopExpiry();
      this.close(CloseCode.SessionExpired);
      return;
    }
    this.expiry ??= new ExpiryDeadline(this, this.host.deadlines);
    this.expiry.schedule(expiresAt, notice ? expiresAt - Math.min(aheadMs, remaining / 2) : expiresAt, notice);
  }

  private stopExpiry(): void {
    if (this.expiry) this.host.deadlines.delete(this.expiry);
  }

  /** Handles the frames kept before authorization; call after 'ready' was emitted. */
  flushPending(): void {
    const kept = this.pending?.take() ?? [];
    this.pending = undefined;
    for (const text of kept) void this.enqueue(text, Buffer.byteLength(text));
  }

  /**
   * Closes with one of the protocol's codes; `'disconnected'` reports that
   * code. A peer that never answers the close frame is terminated after
   * `closeTimeoutMs` (it could keep sending meanwhile): an entry of the
   * host's deadline queue, not a timer of its own.
   */
  close(code: CloseCode, reason?: string): void {
    if (this.phase === 'closed') return;
    if (this.phase !== 'closing') {
      this.chosenCode = code;
      this.chosenReason = reason;
    }
    this.stopInput();
    try {
      this.connection.close(code, reason ?? CloseReason[code]);
    } catch {
      this.connection.terminate();
      return;
    }
    // (A transport may report the close at once, as an in-memory one does.)
    if ((this.phase as Phase) !== 'closed' && this.closeClock === undefined) {
      this.closeClock = new TerminateDeadline(this.connection);
      this.host.deadlines.set(this.closeClock, Date.now() + this.host.closeTimeoutMs);
    }
  }

  /**
   * Closes with `code` once `until` settles. Until then the session takes no
   * more input and is written nothing ({@link held}; `Delivery.write` skips
   * it), so what its client last got stays its last message: with recovery,
   * the close waits for the history to be marked, and a resume anywhere
   * from that position then answers `failed`.
   */
  closeWhen(code: CloseCode, until: Promise<unknown>): void {
    if (this.phase === 'closed' || this.phase === 'closing') return;
    this.chosenCode = code;
    this.chosenReason = undefined;
    this.holding = true;
    this.stopInput();
    const close = () => this.close(code);
    until.then(close, close);
  }

  /** Written nothing more: its close waits (see {@link closeWhen}). */
  get held(): boolean {
    return this.holding;
  }

  /** A slow consumer: terminated without flushing, reported as 4008. */
  cutOff(): void {
    if (this.phase === 'closed') return;
    this.chosenCode = CloseCode.SlowConsumer;
    this.chosenReason = undefined;
    this.stopInput();
    this.connection.terminate();
  }

  private stopInput(): void {
    if (this.phase === 'pending') this.resolveAuth?.(false);
    this.setPhase('closing');
    this.stopAuthClock();
    this.stopExpiry();
    this.input?.stop(this.host.deadlines);
    this.pending = undefined;
  }

  closed(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.setPhase('closed');
    this.stopAuthClock();
    if (this.closeClock) this.host.deadlines.delete(this.closeClock);
    this.stopExpiry();
    this.input?.stop(this.host.deadlines);
    this.pending = undefined;
    this.resolveAuth?.(false);
    // Before the hub's notifications: a throwing 'disconnected' handler cannot hold up close().
    const waiting = this.onClosed;
    this.onClosed = undefined;
    if (waiting) for (const resolve of waiting) resolve();
    this.host.ended(this, code, reason);
  }

  /** Resolves once the transport reported the connection closed. */
  whenClosed(): Promise<void> {
    if (this.phase === 'closed') return RESOLVED;
    return new Promise<void>((resolve) => {
      this.onClosed ??= [];
      this.onClosed.push(resolve);
    });
  }

  /** What `'disconnected'` reports: the hub's own code when it chose one. */
  closeInfo(code: number, reason: string): { code: number; reason: string } {
    const chosen = this.chosenCode;
    if (chosen === undefined) return { code, reason };
    return { code: chosen, reason: this.chosenReason ?? CloseReason[chosen as CloseCode] ?? reason };
  }

  private setPhase(next: Phase): void {
    if (this.state === 'pending' && next !== 'pending') this.host.leftPending();
    this.state = next;
  }
}
