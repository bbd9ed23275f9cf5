import {
  ACK,
  type Ack,
  CloseCode,
  closePolicy,
  EXCEPTION,
  EXPIRING,
  type ExceptionReply,
  type Position,
  REFRESH,
  RESERVED_PREFIX,
  UNWATCH,
  WATCH,
  WELCOME,
} from '@wshub/core/protocol';
import { reconnectDelay } from './backoff.js';
import { ClientBugError } from './client-bug-error.js';
import { dialTarget } from './dial.js';
import { Emitter, handlerFailed } from './emitter.js';
import { Confirmations, handOut } from './confirmations.js';
import { HandledIds } from './handled-ids.js';
import type { AllEvents, CloseInfo, ConnectionState, EventMapOf, Handler, ReceivedMessage } from './events.js';
import { isObject, isReservedName, messageOf, parseFrame } from './incoming.js';
import { type HubClientOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { StoredPosition, startFrom } from './position-store.js';
import { Recovery } from './recovery.js';
import { refreshToken } from './session-refresh.js';
import { SendQueue } from './send-queue.js';
import { openShared } from './share/open-shared.js';
import { messageScope, recoveryPosition } from './share/position.js';
import type { SharedHubClient } from './share/shared-client.js';
import { markConfirmed, markUnconfirmed, Subscription } from './subscription.js';
import { checkEventName, sendFrame, watchScope } from './watch-args.js';
import { WatchReplies } from './watch-replies.js';
import { WatchSet } from './watch-set.js';
import { closeSocket, OPEN, type SocketCloseEvent, type SocketMessageEvent, type WebSocketLike } from './websocket.js';

/**
 * A connection to a wshub server that stays up: it reconnects with
 * exponential backoff and full jitter, asks for a fresh token each time,
 * re-sends every active watch after each reconnect, and stops for good when
 * the server says so (4403 unauthorized, 4000 or 4409 ended).
 *
 * @typeParam Events server event name → type of its `data`
 * @typeParam Outgoing client event name → type of the `data` `send()` takes
 */
export class HubClient<
  Events extends EventMapOf<Events> = Record<string, unknown>,
  Outgoing extends EventMapOf<Outgoing> = Record<string, unknown>,
> {
  readonly #options: ResolvedOptions;
  readonly #emitter: Emitter = new Emitter((error, event) => handlerFailed(this.#emitter, error, event));
  readonly #watches = new WatchSet();
  readonly #queue: SendQueue;
  #state: ConnectionState = 'connecting';
  #socket: WebSocketLike | null = null;
  /** `Date.now()` when the current socket opened; 0 while not open. */
  #openedAt = 0;
  /** Reconnection attempts since the last connection that lasted `resetAfterMs`. */
  #attempts = 0;
  /** The wait before the next attempt, or, while a socket is connecting, its `connectTimeoutMs`. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the client will never connect again. */
  #stopped = false;
  #closing: Promise<void> | undefined;
  /** Request ids of the current connection (watches, resume, refresh). */
  #nextId = 1;
  readonly #recovery: Recovery;
  readonly #confirmations: Confirmations;
  /** Whether this connection's hub takes confirmations (its welcome did not say `receipts: false`). */
  #confirm = true;
  /** The ids of the messages handled lately: a second copy does not run the handlers again. */
  readonly #handled = new HandledIds();
  readonly #stored: StoredPosition | undefined; // with recover: { store }
  readonly #replies: WatchReplies;
  /** With `share`: the shared worker's client, which every public method hands on to. */
  readonly #shared: SharedHubClient | undefined;

  /**
   * Starts connecting at once. Register handlers right after construction:
   * no event fires before the current task ends.
   *
   * @param url `ws://` or `wss://` URL of the hub; in a page, a relative URL
   * such as `/api/v1/ws` or an `http(s)://` one is turned into a WebSocket URL.
   * @throws {TypeError} when the URL or an option is invalid, or there is no
   * `WebSocket` class to use.
   */
  constructor(url: string | URL, options?: HubClientOptions) {
    this.#options = resolveOptions(url, options);
    const { ack, positionStore, confirmBatch } = this.#options;
    this.#confirmations = new Confirmations((socket, frame) => this.#writeFrame(socket, frame), confirmBatch);
    const emit = (event: string, data: unknown, message: ReceivedMessage) => this.#emitter.emit(event, data, message);
    const handle = (event: string, data: unknown, id?: string) =>
      handOut(emit, this.#confirmations, ack, this.#socket, event, data, id, this.#confirm, this.#handled);
    this.#recovery = new Recovery(this.#options.recover, handle, (error) => this.#report(error));
    // Deferred: a store that throws at once does so in this constructor, before the app's 'error' handler is on.
    const reportLater = (error: Error) => queueMicrotask(() => this.#report(error));
    this.#stored = positionStore && new StoredPosition(positionStore.store, positionStore.key, reportLater);
    this.#replies = new WatchReplies(this.#watches, this.#emitter, (error) => this.#report(error));
    this.#queue = new SendQueue(this.#options.maxQueuedMessages);
    // One socket for the browser's tabs: this tab's client then speaks to the shared worker.
    this.#shared = this.#options.share ? openShared(this.#options) : undefined;
    // A position kept by an earlier run: the first connection resumes from it.
    if (!this.#shared) {
      const connect = () => !this.#stopped && void this.#connect();
      startFrom(this.#stored, this.#recovery, connect, this.#options.connectTimeoutMs, reportLater);
    }
  }

  get state(): ConnectionState {
    if (this.#shared) return this.#shared.state;
    return this.#state;
  }

  /** @internal The last offset handled; set before the socket opens, the first connection resumes from it. */
  get [recoveryPosition](): Position | undefined {
    return this.#recovery.position;
  }

  set [recoveryPosition](position: Position | undefined) {
    this.#recovery.position = position;
  }

  /** @internal While a server message's handlers run: the scope it was sent for. */
  get [messageScope](): string | true | undefined {
    return this.#recovery.scope;
  }

  /**
   * Calls `handler` with the `data` of every `event`: a server event from
   * `Events`, or one of the client's own ({@link ClientEvents}). Returns a
   * function that removes the handler. A handler that throws does not stop
   * the others; its error is emitted as `'error'`.
   */
  on<K extends keyof AllEvents<Events> & string>(event: K, handler: Handler<AllEvents<Events>[K]>): () => void {
    if (this.#shared) return this.#shared.on(event, handler);
    checkEventName('on', event);
    if (typeof handler !== 'function') {
      throw new TypeError(`wshub client: on(${JSON.stringify(event)}) "handler" must be a function, got ${typeof handler}`);
    }
    this.#emitter.on(event, handler);
    return () => this.#emitter.off(event, handler);
  }

  /** Removes `handler` from `event`, or every handler of `event` when none is given. */
  off<K extends keyof AllEvents<Events> & string>(event: K, handler?: Handler<AllEvents<Events>[K]>): void {
    if (this.#shared) this.#shared.off(event, handler);
    else this.#emitter.off(event, handler);
  }

  /**
   * Asks the server for `event` messages with this `payload` (scope), or with
   * any payload when it is omitted or `null`. The client keeps the watch and
   * sends it again after every reconnect until `unwatch()`; if the server
   * refuses it, the subscription becomes `'forbidden'`, its `onForbidden`
   * handlers run and `'forbidden'` is emitted. The server answers every
   * watch (protocol v2): `subscription.confirmed` and
   * `subscription.whenConfirmed()` tell when it is in place. A number payload
   * is sent as its decimal string, as the server stores it.
   *
   * @throws {TypeError} for an invalid event or payload, {Error} after `close()`.
   */
  watch<K extends keyof Events & string>(event: K, payload?: string | number | null): Subscription {
    if (this.#shared) return this.#shared.watch(event, payload);
    const scope = watchScope(event, payload);
    if (this.#stopped) {
      throw new Error(`wshub client: watch(${JSON.stringify(event)}) was called after the client closed`);
    }
    const subscription = new Subscription(event, scope, (s) => this.#release(s));
    const socket = this.#openSocket();
    if (this.#watches.add(subscription)) {
      if (socket) this.#sendWatch(socket, event, scope);
    } else if (this.#watches.get(event, scope).some((s) => s !== subscription && s.confirmed)) {
      // Its key is already confirmed on this connection.
      subscription[markConfirmed]();
    }
    return subscription;
  }

  /**
   * Sends `{ event, data }` to the server. While the client is not open the
   * message waits in a queue (`maxQueuedMessages`) and goes out, in order,
   * right after the next connection opens.
   *
   * @returns `true` when the message was written or queued; `false` when the
   * queue is full or the client is closed, and the message was dropped.
   * @throws {TypeError} for an invalid event name, `watch`/`unwatch` (use
   * `watch()`), or data `JSON.stringify` cannot write.
   */
  send<K extends keyof Outgoing & string>(event: K, data: Outgoing[K]): boolean {
    if (this.#shared) return this.#shared.send(event, data);
    const frame = sendFrame(event, data);
    if (this.#stopped) return false;
    const socket = this.#openSocket();
    if (socket) {
      this.#writeFrame(socket, frame);
      return true;
    }
    return this.#queue.push(frame);
  }

  /**
   * Closes the connection (code 1000) and stops for good: no reconnect, queued
   * messages are dropped. Resolves once the socket has closed. Idempotent.
   */
  close(): Promise<void> {
    if (this.#shared) return this.#shared.close();
    if (!this.#stopped) {
      this.#stop();
      const socket = this.#socket;
      this.#socket = null;
      if (socket) this.#closing = closeSocket(socket);
      this.#setState('closed');
    }
    return this.#closing ?? Promise.resolve();
  }

  async #connect(): Promise<void> {
    const target = await dialTarget(this.#options);
    if (this.#stopped) return;
    if (target instanceof Error) {
      this.#attemptFailed(target);
      return;
    }
    let socket: WebSocketLike;
    try {
      socket = new this.#options.WebSocket(target.url, target.protocols);
    } catch (error) {
      this.#attemptFailed(new Error(`wshub client: could not create the WebSocket: ${messageOf(error)}`, { cause: error }));
      return;
    }
    this.#socket = socket;
    socket.onopen = () => this.#onOpen(socket);
    socket.onmessage = (event: SocketMessageEvent) => this.#onMessage(socket, event.data);
    socket.onclose = (event: SocketCloseEvent) => this.#onClose(socket, event.code, event.reason);
    // Browsers give an error event no detail; the close event that follows
    // (1006) says what happened and what the client does next.
    socket.onerror = () => {};
    const timeoutMs = this.#options.connectTimeoutMs;
    if (timeoutMs > 0) this.#timer = setTimeout(() => this.#openTimedOut(socket, timeoutMs), timeoutMs);
  }

  /**
   * The socket did not open within `connectTimeoutMs`: a server (or a proxy)
   * that took the TCP connection and never answers the upgrade would keep it
   * connecting forever. Closed, and retried as a failed attempt.
   */
  #openTimedOut(socket: WebSocketLike, timeoutMs: number): void {
    this.#timer = undefined;
    if (socket !== this.#socket) return;
    this.#socket = null;
    void closeSocket(socket);
    this.#retry({ code: 1006, reason: `the connection did not open within ${timeoutMs} ms (connectTimeoutMs)` });
  }

  #onOpen(socket: WebSocketLike): void {
    if (socket !== this.#socket) return;
    this.#clearTimer();
    this.#openedAt = Date.now();
    // Watches first: the app's queued messages may expect them in place, and a replay applies them.
    for (const { event, payload } of this.#watches.keys()) this.#sendWatch(socket, event, payload);
    const resume = this.#recovery.resume(this.#nextId);
    if (resume) {
      this.#nextId++;
      this.#writeFrame(socket, resume);
    }
    for (const frame of this.#queue.drain()) this.#writeFrame(socket, frame);
    this.#setState('open');
  }

  #onMessage(socket: WebSocketLike, raw: unknown): void {
    if (socket !== this.#socket) return;
    const frame = parseFrame(raw);
    if (frame instanceof Error) {
      this.#report(frame);
      return;
    }
    const { event, data } = frame;
    if (event === ACK) {
      if (isObject(data)) this.#onAck(data as unknown as Ack);
    } else if (event === WELCOME) {
      // Authorized (protocol v2). With recovery, the position to start from.
      this.#confirm = !(isObject(data) && data.receipts === false);
      this.#recovery.onWelcome(data);
    } else if (event === EXPIRING) {
      void this.#refresh(socket);
    } else if (event === EXCEPTION) {
      this.#emitter.emit('exception', data as ExceptionReply);
    } else if (event === WATCH) {
      // A server that speaks v1 refuses a watch this way and never confirms one.
      if (isObject(data) && data.forbidden === true) this.#replies.onForbidden(data);
    } else if (event.startsWith(RESERVED_PREFIX)) {
      // A protocol frame of a later version: ignored, as the protocol says.
    } else if (isReservedName(event)) {
      this.#report(
        new Error(`wshub client: the server sent event "${event}", a name the client reserves for its own events; not delivered`),
      );
    } else {
      this.#recovery.receive(frame);
    }
    this.#stored?.save(this.#recovery.position);
  }

  /**
   * The server says the session expires soon: ask the `token` option for a
   * fresh token and send it on this socket. Without a `token` option there
   * is nothing to send; the server closes with 4401 at expiry and the client
   * reconnects. A refused token closes with 4403 (`'unauthorized'`).
   */
  async #refresh(socket: WebSocketLike): Promise<void> {
    const token = await refreshToken(this.#options, () => socket === this.#socket && socket.readyState === OPEN, (e) => this.#report(e));
    if (token !== undefined) this.#writeFrame(socket, JSON.stringify({ event: REFRESH, id: this.#nextId++, data: { token } }));
  }

  /** The server's answer to a request of this connection. */
  #onAck(ack: Ack): void {
    if (typeof ack.id !== 'number') return;
    if (ack.op === 'resume') this.#recovery.onAck(ack);
    else this.#replies.onAck(ack.id, ack);
  }

  #onClose(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.#socket) return;
    this.#clearTimer();
    this.#socket = null;
    this.#replies.clear();
    this.#recovery.connectionLost();
    // A server restarting (a deploy), or a session that only needs a fresh token: back soon, not after a long backoff.
    if (code === CloseCode.ServiceRestart || code === CloseCode.SessionExpired) this.#attempts = 0;
    for (const subscription of this.#watches.all()) subscription[markUnconfirmed]();
    if (this.#openedAt !== 0 && Date.now() - this.#openedAt >= this.#options.reconnect.resetAfterMs) this.#attempts = 0;
    this.#openedAt = 0;
    const policy = closePolicy(code);
    if (policy === 'reconnect') {
      this.#retry({ code, reason });
      return;
    }
    this.#stop();
    const info: CloseInfo = { code, reason, retryInMs: null };
    this.#emitter.emit('close', info);
    if (code === CloseCode.Forbidden) this.#emitter.emit('unauthorized', info);
    else if (code === CloseCode.DisconnectedByServer || code === CloseCode.TooManySockets) this.#emitter.emit('ended', info);
    else this.#report(new ClientBugError(code, reason));
    this.#setState('closed');
  }

  /** A connection attempt failed before a socket existed (token, constructor). */
  #attemptFailed(error: Error): void {
    this.#report(error);
    this.#retry(undefined);
  }

  /** Schedules the next attempt, or gives up after `maxAttempts`. */
  #retry(closed: { code: number; reason: string } | undefined): void {
    const settings = this.#options.reconnect;
    if (this.#attempts >= settings.maxAttempts) {
      this.#stop();
      if (closed) this.#emitter.emit('close', { ...closed, retryInMs: null });
      if (settings.maxAttempts > 0) {
        const attempts = `${this.#attempts} reconnection attempts (reconnect.maxAttempts is ${settings.maxAttempts})`;
        this.#report(new Error(`wshub client: gave up after ${attempts}`));
      }
      this.#setState('closed');
      return;
    }
    const delay = reconnectDelay(this.#attempts, settings, Math.random());
    this.#attempts += 1;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#connect();
    }, delay);
    if (closed) this.#emitter.emit('close', { ...closed, retryInMs: delay });
    this.#setState('reconnecting');
  }

  #release(subscription: Subscription): void {
    const socket = this.#openSocket();
    if (this.#watches.remove(subscription) && socket) {
      this.#writeFrame(
        socket,
        JSON.stringify({ event: UNWATCH, id: this.#nextId++, data: { event: subscription.event, payload: subscription.payload } }),
      );
    }
  }

  /** Sends a watch with a request id, so the server's answer can be matched to it. */
  #sendWatch(socket: WebSocketLike, event: string, payload: string | null): void {
    const id = this.#nextId++;
    this.#replies.sent(id, event, payload);
    this.#writeFrame(socket, JSON.stringify({ event: WATCH, id, data: { event, payload } }));
  }

  #stop(): void {
    this.#stopped = true;
    this.#confirmations.flush(); // on close(): what the app confirmed goes out before the socket closes
    // Nothing will be confirmed any more: whoever waits for a confirmation learns it now.
    for (const subscription of this.#watches.all()) subscription[markUnconfirmed](true);
    this.#clearTimer();
    this.#queue.drain();
  }

  #clearTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #openSocket(): WebSocketLike | null {
    return this.#state === 'open' && this.#socket?.readyState === OPEN ? this.#socket : null;
  }

  #writeFrame(socket: WebSocketLike, frame: string): void {
    try {
      socket.send(frame);
    } catch (error) {
      // Only possible if the socket is not open, and then its close event follows.
      this.#report(new Error(`wshub client: a message could not be written: ${messageOf(error)}`, { cause: error }));
    }
  }

  #setState(next: ConnectionState): void {
    // 'closed' is final: a handler that called close() mid-transition wins.
    if (this.#state === next || this.#state === 'closed') return;
    this.#state = next;
    this.#emitter.emit('state', next);
  }

  /** Emits `'error'`; without a handler the error is dropped, as the client never logs. */
  #report(error: Error): void {
    this.#emitter.emit('error', error);
  }

}
