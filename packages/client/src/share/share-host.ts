import { ClientBugError } from '../client-bug-error.js';
import type { ReceivedMessage } from '../events.js';
import { HubClient } from '../hub-client.js';
import type { Subscription } from '../subscription.js';
import { PendingAcks } from './pending-acks.js';
import { messageScope, recoveryPosition } from './position.js';
import type { SerializedError, SharedOptions, TabMessage, WorkerMessage } from './port-messages.js';

/** The part of `MessagePort` the host uses. */
export interface PortLike {
  postMessage(message: WorkerMessage): void;
  onmessage: ((event: { data: TabMessage }) => void) | null;
  close(): void;
}

/** How long a hand-over waits for the other tabs to attach before the new socket connects and resumes. */
const HANDOVER_SETTLE_MS = 150;

/** What `navigator.locks` offers, where it exists. */
interface LockManagerLike {
  request(name: string, callback: () => unknown): Promise<unknown>;
}

/** A token request sent to one tab, settled by its answer or by its leaving. */
interface TokenRequest {
  tab: Tab;
  resolve(token: string): void;
  reject(error: Error): void;
}

class Tab {
  readonly port: PortLike;
  connection: SharedConnection | undefined;
  hasToken = false;
  /** This tab's `watch()` calls by key: each is its own subscription of the shared client. */
  readonly subscriptions = new Map<number, Subscription>();
  /** Server events this tab has handlers for, with their count. */
  readonly listening = new Map<string, number>();

  constructor(port: PortLike) {
    this.port = port;
  }

  post(message: WorkerMessage): void {
    try {
      this.port.postMessage(message);
    } catch {
      // Data that cannot be cloned or a port already closed: the tab cannot get it either way.
    }
  }

  /** Whether this tab watches `event` for `scope` (or for every scope); `true` asks for any watch of the event. */
  watches(event: string, scope: string | true): boolean {
    for (const { event: watched, payload, status } of this.subscriptions.values()) {
      if (watched === event && status === 'active' && (scope === true || payload === null || payload === scope)) return true;
    }
    return false;
  }
}

/**
 * One `HubClient` — one WebSocket — for every tab attached with the same URL.
 * Watches are the client's subscriptions, one per tab's `watch()` call, so
 * the client's own counting keeps a key watched while any tab holds it.
 */
class SharedConnection {
  readonly url: string;
  readonly client: HubClient;
  readonly tabs = new Set<Tab>();
  /** Server events the shared client has a forwarding handler for, and how many tabs want each. */
  readonly #events = new Map<string, { tabs: number; off: () => void }>();
  readonly #tokenRequests = new Map<number, TokenRequest>();
  #nextTokenId = 1;
  readonly #onEnd: () => void;
  /** Closed by its host: the tabs attach elsewhere and hear nothing more from it. */
  #silenced = false;
  /** With `ack: 'manual'`: messages handed to tabs, confirmed by the first tab's ack. */
  readonly #acks: PendingAcks | undefined;

  /** `first` is attached before the client starts, as the client asks for a token at once. */
  constructor(options: SharedOptions, first: Tab, onEnd: () => void) {
    this.url = options.url;
    this.#onEnd = onEnd;
    this.tabs.add(first);
    first.connection = this;
    this.client = new HubClient(options.url, {
      protocols: options.protocols,
      tokenIn: options.tokenIn,
      reconnect: options.reconnect,
      connectTimeoutMs: options.connectTimeoutMs,
      maxQueuedMessages: options.maxQueuedMessages,
      confirmBatch: options.confirmBatch,
      recover: options.recover,
      ack: options.ack,
      token: options.hasToken ? () => this.#askToken() : undefined,
    });
    this.#acks = options.ack === 'manual' ? new PendingAcks() : undefined;
    const client = this.client;
    // A hand-over: the new connection resumes where the last one's messages reached.
    if (options.recover && options.position) client[recoveryPosition] = options.position;
    client.on('state', (state) => {
      this.#broadcast({ type: 'state', state });
      if (state !== 'open') this.#acks?.clear();
      if (state === 'open') for (const tab of this.tabs) this.#awaitConfirmations(tab);
      if (state === 'closed') this.#onEnd();
    });
    for (const event of ['close', 'unauthorized', 'ended', 'exception', 'recovered'] as const) {
      client.on(event, (data) => this.#broadcast({ type: 'emit', event, data }));
    }
    client.on('error', (error) => this.#broadcast({ type: 'error', error: serializeError(error) }));
    first.post({ type: 'state', state: client.state });
  }

  attach(tab: Tab): void {
    this.tabs.add(tab);
    tab.connection = this;
    tab.post({ type: 'state', state: this.client.state });
  }

  /** The tab closed its client or went away: its watches and handlers go; the last tab closes the socket. */
  detach(tab: Tab): void {
    if (!this.tabs.delete(tab)) return;
    tab.connection = undefined;
    for (const subscription of tab.subscriptions.values()) {
      subscription.unwatch();
      this.#release(subscription.event);
    }
    tab.subscriptions.clear();
    for (const [event, count] of tab.listening) for (let i = 0; i < count; i++) this.#release(event);
    tab.listening.clear();
    for (const [id, request] of this.#tokenRequests) {
      if (request.tab !== tab) continue;
      this.#tokenRequests.delete(id);
      request.reject(new Error('the tab asked for the token closed before answering'));
    }
    if (this.tabs.size === 0) {
      this.#onEnd();
      void this.client.close();
    }
  }

  /** Closes the socket without a word to the tabs (their leader tab was replaced). */
  silence(): void {
    this.#silenced = true;
    void this.client.close();
  }

  handle(tab: Tab, message: TabMessage): void {
    switch (message.type) {
      case 'watch':
        this.#watch(tab, message.key, message.event, message.payload);
        break;
      case 'unwatch': {
        const subscription = tab.subscriptions.get(message.key);
        tab.subscriptions.delete(message.key);
        subscription?.unwatch();
        if (subscription) this.#release(subscription.event);
        break;
      }
      case 'listen':
        tab.listening.set(message.event, (tab.listening.get(message.event) ?? 0) + 1);
        this.#hold(message.event);
        break;
      case 'unlisten': {
        const count = tab.listening.get(message.event) ?? 0;
        if (count === 0) break;
        if (count === 1) tab.listening.delete(message.event);
        else tab.listening.set(message.event, count - 1);
        this.#release(message.event);
        break;
      }
      case 'send': {
        const { event, data } = JSON.parse(message.frame) as { event: string; data: unknown };
        this.client.send(event, data);
        break;
      }
      case 'token':
        this.#answerToken(message);
        break;
      case 'ack':
        this.#acks?.ack(message.id);
        break;
      default:
        break;
    }
  }

  #watch(tab: Tab, key: number, event: string, payload: string | null): void {
    if (this.client.state === 'closed') return;
    const subscription = this.client.watch(event, payload);
    tab.subscriptions.set(key, subscription);
    this.#hold(event);
    subscription.onForbidden((watch) => {
      if (tab.subscriptions.get(key) !== subscription) return;
      tab.subscriptions.delete(key);
      this.#release(event);
      tab.post({ type: 'forbidden', key, watch });
    });
    this.#awaitConfirmation(tab, key, subscription);
  }

  #awaitConfirmations(tab: Tab): void {
    for (const [key, subscription] of tab.subscriptions) this.#awaitConfirmation(tab, key, subscription);
  }

  #awaitConfirmation(tab: Tab, key: number, subscription: Subscription): void {
    void subscription.whenConfirmed().then((confirmed) => {
      if (confirmed && tab.subscriptions.get(key) === subscription) tab.post({ type: 'confirmed', key });
    });
  }

  /** One more tab wants `event`: the shared client forwards it while any does. */
  #hold(event: string): void {
    const entry = this.#events.get(event);
    if (entry) {
      entry.tabs += 1;
      return;
    }
    const off = this.client.on(event, (data: unknown, message: ReceivedMessage) => this.#route(event, data, message));
    this.#events.set(event, { tabs: 1, off });
  }

  #release(event: string): void {
    const entry = this.#events.get(event);
    if (!entry) return;
    entry.tabs -= 1;
    if (entry.tabs > 0) return;
    entry.off();
    this.#events.delete(event);
  }

  /**
   * Which tabs get a message, by the scope the server sent it for: one
   * scope, the tabs watching it or the event's wildcard; `true`, the tabs
   * watching the event; none (the whole user), every tab with a handler for
   * the event, as each tab's own socket would have got it. With `ack:
   * 'manual'`, the first of them to ack it confirms it; one no tab got is
   * not confirmed.
   */
  #route(event: string, data: unknown, received: ReceivedMessage): void {
    if (this.#silenced) return;
    // The client moved its position to this message's offset before calling its handlers.
    const position = this.client[recoveryPosition];
    const scope = this.client[messageScope];
    const { id } = received;
    const message: WorkerMessage = { type: 'message', event, data };
    if (position) message.position = position;
    if (id !== undefined) message.id = id;
    if (id !== undefined && this.#acks) message.awaitsAck = true;
    let routed = false;
    for (const tab of this.tabs) {
      if (scope === undefined ? tab.listening.has(event) : tab.watches(event, scope)) {
        tab.post(message);
        routed = true;
      }
    }
    if (routed) this.#acks?.hold(received);
  }

  #broadcast(message: WorkerMessage): void {
    if (this.#silenced) return;
    for (const tab of this.tabs) tab.post(message);
  }

  /** Asks one tab that has a `token` option; the first that attached and is still here. */
  #askToken(): Promise<string> {
    const tab = [...this.tabs].find((t) => t.hasToken);
    if (!tab) return Promise.reject(new Error('no open tab has a "token" option to ask'));
    const id = this.#nextTokenId++;
    return new Promise((resolve, reject) => {
      this.#tokenRequests.set(id, { tab, resolve, reject });
      tab.post({ type: 'token', id });
    });
  }

  #answerToken(message: Extract<TabMessage, { type: 'token' }>): void {
    const request = this.#tokenRequests.get(message.id);
    if (!request) return;
    this.#tokenRequests.delete(message.id);
    // The shared client checks the value as it checks any token.
    if (message.error !== undefined) request.reject(new Error(message.error));
    else request.resolve(message.token as string);
  }
}

/**
 * The shared worker's side: tabs attach over their ports; one
 * {@link SharedConnection} per URL. A connection that stopped for good
 * (logout, 4403) is forgotten, so a tab that attaches later starts anew.
 */
export class ShareHost {
  readonly #connections = new Map<string, SharedConnection>();
  /** Hand-overs waiting for the other tabs: what arrived for each URL meanwhile, in order. */
  readonly #settling = new Map<string, Array<[Tab, TabMessage]>>();
  /** Tabs whose attach waits in {@link #settling}, with its URL. */
  readonly #waiting = new Map<Tab, string>();
  readonly #locks: LockManagerLike | undefined;
  #closed = false;

  constructor(locks: LockManagerLike | undefined) {
    this.#locks = locks;
  }

  /** Serves one tab's port. */
  connect(port: PortLike): void {
    const tab = new Tab(port);
    port.onmessage = (event) => this.#onMessage(tab, event.data);
  }

  /**
   * Stops serving (a leader tab another tab replaced): every socket closes,
   * and no tab is told, as each attaches to the new leader.
   */
  close(): void {
    this.#closed = true;
    for (const connection of this.#connections.values()) connection.silence();
    this.#connections.clear();
    this.#settling.clear();
    this.#waiting.clear();
  }

  #onMessage(tab: Tab, message: TabMessage): void {
    if (this.#closed) return;
    const url = message.type === 'attach' ? message.options.url : this.#waiting.get(tab);
    const settling = url === undefined ? undefined : this.#settling.get(url);
    if (url !== undefined && settling) {
      settling.push([tab, message]);
      if (message.type === 'attach') this.#waiting.set(tab, url);
      return;
    }
    if (url !== undefined && message.type === 'attach' && message.options.position && !this.#connections.has(url)) {
      // A hand-over from a leader tab that went: the tabs attach again within
      // moments of each other. Their watches must be on the new socket before
      // it resumes, or the server replays nothing for them.
      this.#settling.set(url, [[tab, message]]);
      this.#waiting.set(tab, url);
      setTimeout(() => this.#settled(url), HANDOVER_SETTLE_MS);
      return;
    }
    if (message.type === 'attach') {
      this.#attach(tab, message);
      return;
    }
    if (message.type === 'detach') {
      this.#leave(tab);
      return;
    }
    tab.connection?.handle(tab, message);
  }

  #settled(url: string): void {
    if (this.#closed) return;
    const queued = this.#settling.get(url) ?? [];
    this.#settling.delete(url);
    // The new socket resumes from the earliest position a tab brought: each
    // tab drops what it already handled, and none misses what it had not.
    const attaches = queued.flatMap(([, m]) => (m.type === 'attach' ? [m] : []));
    const first = attaches[0];
    if (first?.options.position) {
      const { epoch } = first.options.position;
      const offsets = attaches.flatMap((m) => (m.options.position?.epoch === epoch ? [m.options.position.offset] : []));
      first.options.position = { epoch, offset: Math.min(...offsets) };
    }
    for (const [tab] of queued) this.#waiting.delete(tab);
    for (const [tab, message] of queued) {
      if (message.type === 'attach') this.#attach(tab, message);
      else this.#onMessage(tab, message);
    }
  }

  #attach(tab: Tab, message: Extract<TabMessage, { type: 'attach' }>): void {
    if (tab.connection) return;
    const { options } = message;
    tab.hasToken = options.hasToken;
    const connection = this.#connections.get(options.url);
    if (connection) {
      connection.attach(tab);
    } else {
      const created: SharedConnection = new SharedConnection(options, tab, () => {
        if (this.#connections.get(options.url) === created) this.#connections.delete(options.url);
      });
      this.#connections.set(options.url, created);
    }
    // The tab holds this lock until it closes, crashes or navigates away: a tab gone without a word is noticed.
    if (message.lock && this.#locks) void this.#locks.request(message.lock, () => this.#leave(tab));
  }

  #leave(tab: Tab): void {
    tab.connection?.detach(tab);
    tab.port.close();
  }
}

function serializeError(error: Error): SerializedError {
  const serialized: SerializedError = { name: error.name, message: error.message };
  if (error instanceof ClientBugError) {
    serialized.code = error.code;
    serialized.reason = error.reason;
  }
  return serialized;
}
