import type { Position } from '@wshub/core/protocol';
import { ClientBugError } from '../client-bug-error.js';
import { Emitter, handlerFailed, NO_MESSAGE } from '../emitter.js';
import type { ClientEvents, ConnectionState, ForbiddenWatch, Handler, ReceivedMessage } from '../events.js';
import type { ResolvedOptions } from '../options.js';
import { markConfirmed, markForbidden, markUnconfirmed, Subscription } from '../subscription.js';
import { checkEventName, sendFrame, watchScope } from '../watch-args.js';
import type { SerializedError, SharedOptions, TabMessage, WorkerMessage } from './port-messages.js';

/** Events the client emits itself: a handler for one of them is not asked of the worker. */
const CLIENT_EVENTS: ReadonlySet<string> = new Set<keyof ClientEvents>([
  'state',
  'close',
  'unauthorized',
  'ended',
  'forbidden',
  'exception',
  'recovered',
  'error',
]);

/** The part of `MessagePort` a tab uses. */
export interface TabPort {
  postMessage(message: TabMessage): void;
  onmessage: ((event: { data: WorkerMessage }) => void) | null;
  close(): void;
}

/** What `navigator.locks` offers, where it exists. */
interface LockManagerLike {
  request(name: string, callback: () => Promise<void>): Promise<unknown>;
}

/**
 * A tab's `HubClient` with `share`: the same public API, its socket being
 * the one the shared worker holds. A `HubClient` made with `share` hands
 * every public method on to one of these. Each `watch()` is a subscription of the shared client, so a
 * watch stays while any tab holds it; the worker hands this tab the
 * messages of the events it watches, and the client's own events.
 */
export class SharedHubClient {
  readonly #port: TabPort;
  readonly #token: ResolvedOptions['token'];
  readonly #ack: ResolvedOptions['ack'];
  readonly #emitter: Emitter = new Emitter((error, event) => handlerFailed(this.#emitter, error, event));
  readonly #subscriptions = new Map<number, Subscription>();
  #nextKey = 1;
  #state: ConnectionState = 'connecting';
  #closed = false;
  /** What the tab said before it attached (it attaches once it holds its lock); sent right after the attach. */
  #early: TabMessage[] | undefined = [];
  /** The attach message, sent again by {@link reattach}. */
  #attachMessage: Extract<TabMessage, { type: 'attach' }> | undefined;
  /** The offset of the last message this tab handled: one seen again after a hand-over is dropped. */
  #handled: Position | undefined;
  /** The latest position this tab knows of, its own messages' or another tab's (leader hand-over). */
  #known: Position | undefined;
  /** Resolving it releases the lock that tells the worker this tab is here. */
  #releaseLock: (() => void) | undefined;

  constructor(options: ResolvedOptions, port: TabPort, locks: LockManagerLike | undefined) {
    this.#port = port;
    this.#token = options.token;
    this.#ack = options.ack;
    port.onmessage = (event) => this.#onMessage(event.data);
    const shared: SharedOptions = {
      url: options.url.href,
      protocols: options.protocols,
      tokenIn: options.tokenIn,
      hasToken: options.token !== undefined,
      reconnect: options.reconnect,
      connectTimeoutMs: options.connectTimeoutMs,
      maxQueuedMessages: options.maxQueuedMessages,
      confirmBatch: options.confirmBatch,
      recover: options.recover,
      ack: options.ack,
    };
    if (!locks) {
      this.#attach({ type: 'attach', options: shared, lock: null });
      return;
    }
    const lock = `wshub:tab:${randomId()}`;
    // Attach once the lock is held, so the worker's request for it waits for this tab to go.
    void locks.request(lock, () => {
      if (!this.#closed) this.#attach({ type: 'attach', options: shared, lock });
      return new Promise<void>((resolve) => {
        this.#releaseLock = resolve;
        if (this.#closed) resolve();
      });
    });
  }

  get state(): ConnectionState {
    return this.#state;
  }

  on(event: string, handler: Handler<any>): () => void {
    checkEventName('on', event);
    if (typeof handler !== 'function') {
      throw new TypeError(`wshub client: on(${JSON.stringify(event)}) "handler" must be a function, got ${typeof handler}`);
    }
    this.#emitter.on(event, handler);
    if (!CLIENT_EVENTS.has(event)) this.#post({ type: 'listen', event });
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.#off(event, handler);
    };
  }

  /** Removes `handler` from `event`, or every handler of `event` when none is given. */
  off(event: string, handler?: Handler<any>): void {
    this.#off(event, handler);
  }

  watch(event: string, payload?: string | number | null): Subscription {
    const scope = watchScope(event, payload);
    if (this.#closed) {
      throw new Error(`wshub client: watch(${JSON.stringify(event)}) was called after the client closed`);
    }
    const key = this.#nextKey++;
    const subscription = new Subscription(event, scope, () => {
      this.#subscriptions.delete(key);
      this.#post({ type: 'unwatch', key });
    });
    this.#subscriptions.set(key, subscription);
    this.#post({ type: 'watch', key, event, payload: scope });
    return subscription;
  }

  /**
   * Hands the message to the shared connection, which writes it or queues
   * it (`maxQueuedMessages`) as `HubClient.send()` does; `true` unless this
   * client is closed (the shared queue being full is not known here).
   */
  send(event: string, data: unknown): boolean {
    const frame = sendFrame(event, data);
    if (this.#closed) return false;
    this.#post({ type: 'send', frame });
    return true;
  }

  /** The shared connection cannot be had: `'error'`, then closed for good. */
  fail(error: Error): void {
    if (this.#closed) return;
    this.#stop();
    this.#emitter.emit('error', error);
    this.#setState('closed');
  }

  /** Detaches this tab; the shared socket closes when the last tab has. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#post({ type: 'detach' });
      this.#stop();
      this.#setState('closed');
    }
    return Promise.resolve();
  }

  #off(event: string, handler: Handler<any> | undefined): void {
    const before = this.#emitter.count(event);
    this.#emitter.off(event, handler);
    if (CLIENT_EVENTS.has(event)) return;
    for (let n = this.#emitter.count(event); n < before; n++) this.#post({ type: 'unlisten', event });
  }

  #onMessage(message: WorkerMessage): void {
    if (this.#closed) return;
    switch (message.type) {
      case 'state': {
        if (message.state !== 'open') for (const s of this.#subscriptions.values()) s[markUnconfirmed]();
        if (message.state === 'closed') this.#stop();
        // A new worker or leader starts its first connection; for this tab it is a reconnect.
        const connecting = message.state === 'connecting' && this.#state !== 'connecting';
        this.#setState(connecting ? 'reconnecting' : message.state);
        break;
      }
      case 'message':
        if (message.position) {
          if (isAfter(message.position, this.#handled) === false) break;
          this.#handled = message.position;
          this.notePosition(message.position);
        }
        this.#hand(message);
        break;
      case 'emit':
        this.#emitter.emit(message.event, message.data);
        break;
      case 'error':
        this.#emitter.emit('error', deserializeError(message.error));
        break;
      case 'confirmed':
        this.#subscriptions.get(message.key)?.[markConfirmed]();
        break;
      case 'forbidden':
        this.#onForbidden(message.key, message.watch);
        break;
      case 'token':
        void this.#answerToken(message.id);
        break;
    }
  }

  /**
   * A message to this tab's handlers. One the connection waits to have acked
   * (its `ack: 'manual'`) is acked by `message.ack()`, or, with this tab's
   * `ack: 'auto'`, once the handlers returned; the first tab's ack confirms it.
   */
  #hand({ event, data, id, awaitsAck }: Extract<WorkerMessage, { type: 'message' }>): void {
    if (id === undefined) {
      this.#emitter.emit(event, data);
      return;
    }
    let acked = awaitsAck !== true || this.#ack === 'auto';
    const received: ReceivedMessage = {
      id,
      ack: () => {
        if (acked) return;
        acked = true;
        this.#post({ type: 'ack', id });
      },
    };
    this.#emitter.emit(event, data, received);
    if (awaitsAck && this.#ack === 'auto') this.#post({ type: 'ack', id });
  }

  #onForbidden(key: number, refused: ForbiddenWatch): void {
    const subscription = this.#subscriptions.get(key);
    if (!subscription) return;
    this.#subscriptions.delete(key);
    for (const handler of subscription[markForbidden]()) {
      try {
        handler(refused, NO_MESSAGE);
      } catch (error) {
        handlerFailed(this.#emitter, error, 'forbidden');
      }
    }
    this.#emitter.emit('forbidden', refused);
  }

  async #answerToken(id: number): Promise<void> {
    if (!this.#token) {
      this.#post({ type: 'token', id, error: 'this tab has no "token" option' });
      return;
    }
    try {
      this.#post({ type: 'token', id, token: await this.#token() });
    } catch (error) {
      this.#post({ type: 'token', id, error: error instanceof Error ? error.message : String(error) });
    }
  }

  #stop(): void {
    this.#closed = true;
    for (const subscription of this.#subscriptions.values()) subscription[markUnconfirmed](true);
    this.#releaseLock?.();
  }

  /**
   * The connection's holder changed (`share: 'leader'`: another tab leads
   * now): attach to the new one with this tab's watches and handlers.
   */
  reattach(): void {
    if (this.#closed || this.#early || !this.#attachMessage) return;
    for (const subscription of this.#subscriptions.values()) subscription[markUnconfirmed]();
    const attach = this.#attachMessage;
    this.#port.postMessage(this.#known ? { ...attach, options: { ...attach.options, position: this.#known } } : attach);
    for (const [key, subscription] of this.#subscriptions) {
      this.#port.postMessage({ type: 'watch', key, event: subscription.event, payload: subscription.payload });
    }
    for (const event of this.#listening) this.#port.postMessage({ type: 'listen', event });
  }

  /** The worker serving this tab is gone: not open until the new one says so. */
  hostLost(): void {
    if (this.#closed) return;
    for (const subscription of this.#subscriptions.values()) subscription[markUnconfirmed]();
    this.#setState('reconnecting');
  }

  /**
   * This tab led and was replaced while it did not run (a hung page): what
   * the server sent for it meanwhile may be gone, which a client with a
   * recovery position says with `'recovered'` (`false`), as after a failed resume.
   */
  missedWhileAway(): void {
    if (this.#closed || (!this.#handled && !this.#known)) return;
    this.#emitter.emit('recovered', { recovered: false, missed: 0 });
  }

  /** A message went out at `position` (to this tab or, seen on the channel, to another). */
  notePosition(position: Position): void {
    if (isAfter(position, this.#known) !== false) this.#known = position;
  }

  /** Server events with handlers, one entry per handler. */
  get #listening(): string[] {
    return this.#emitter.events().flatMap((event) =>
      CLIENT_EVENTS.has(event) ? [] : Array.from({ length: this.#emitter.count(event) }, () => event),
    );
  }

  #attach(attach: Extract<TabMessage, { type: 'attach' }>): void {
    this.#attachMessage = attach;
    const early = this.#early ?? [];
    this.#early = undefined;
    this.#port.postMessage(attach);
    for (const message of early) this.#port.postMessage(message);
  }

  #post(message: TabMessage): void {
    if (this.#closed && message.type !== 'detach') return;
    if (this.#early) this.#early.push(message);
    else this.#port.postMessage(message);
  }

  #setState(next: ConnectionState): void {
    if (this.#state === next || this.#state === 'closed') return;
    this.#state = next;
    this.#emitter.emit('state', next);
  }

}

/** Whether `position` comes after `than`; `undefined` when they cannot be compared (another epoch, or none yet). */
function isAfter(position: Position, than: Position | undefined): boolean | undefined {
  if (!than || than.epoch !== position.epoch) return undefined;
  return position.offset > than.offset;
}

function deserializeError(serialized: SerializedError): Error {
  if (serialized.name === 'ClientBugError' && serialized.code !== undefined) {
    return new ClientBugError(serialized.code, serialized.reason ?? '');
  }
  const error = new Error(serialized.message);
  if (serialized.name !== 'Error') error.name = serialized.name;
  return error;
}

function randomId(): string {
  const crypto = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  return crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random().toString(36).slice(2)}`;
}
