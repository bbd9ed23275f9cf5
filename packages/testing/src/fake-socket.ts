import type { Ack, HubUser, Position, Session } from '@wshub/core';
import { CONFIRM, EXPIRING, parsePosition, REFRESH, RESUME, UNWATCH, WATCH, WELCOME } from '@wshub/core/protocol';
import { type CloseInfo, describeClose, MessageQueue, type NextOptions, type ReceivedMessage } from './message-queue.js';
import { ackOf, isProtocolFrame, settleAck, type WatchResult, watchRequest } from './watch-reply.js';

/** Hands a frame the hub wrote to the socket, and links the hub's session; kept off the public surface. */
export const kDeliver = Symbol('wshub.fake.deliver');
export const kAttach = Symbol('wshub.fake.attach');
/** The hub's close: the client sees `code`, the hub is told through the session. */
export const kServerClose = Symbol('wshub.fake.serverClose');

const OPEN = 1;
const CLOSED = 3;
/** What a server sees when a client closes without a status code (RFC 6455 §7.1.5). */
const NO_STATUS = 1005;
/** What a client sees when the connection drops without a close frame. */
const ABNORMAL = 1006;

/**
 * One device session on a {@link FakeHub}, without a network. It is both
 * sides at once: the socket the app sees (the hub adds `id`, `user`,
 * `watching`, … as on a real `HubSocket`), and the client, which sends
 * frames with {@link emit} / {@link watch} and reads what it got in
 * {@link received}. It speaks protocol v2 as `@wshub/client` does: every
 * watch and unwatch is answered by the hub, and those answers (and the
 * welcome) are taken by {@link watch}/{@link unwatch}, never listed in
 * `received`.
 */
export class FakeSocket<User extends HubUser = HubUser> {
  // Added by the hub when it opens the session (see HubSocketFields in @wshub/core).
  declare readonly id: string;
  declare readonly roomId: string;
  declare readonly deviceFingerprint: string;
  declare readonly user: User;
  declare readonly watching: Map<string, Set<string | null>>;
  declare readonly isAuthorized: Promise<boolean>;

  readyState: number = OPEN;
  /** Always 0: nothing queues in memory. Assign a number to make the hub treat this socket as a slow reader. */
  bufferedAmount = 0;
  /** How the socket closed (`{ code, reason }` as a client sees it), once it did. */
  closed: CloseInfo | undefined;
  /**
   * With message recovery on the hub: where this client stands (the epoch,
   * and the offset of the last message it received). Hand it to
   * `hub.connect(user, { resumeFrom })` after a drop to test the replay.
   */
  position: Position | undefined;
  /** After `connect(…, { resumeFrom })`: what the hub answered, as `@wshub/client`'s `'recovered'` event says it. */
  recovered: { recovered: boolean; missed: number } | undefined;
  /**
   * When the session expires, in ms since the epoch: the user's `expiresAt`
   * from the handshake, then what each `wshub:expiring` notice and refresh
   * answer says. Undefined while the user has none.
   */
  expiresAt: number | undefined;

  /**
   * Receipts (a hub with `receipts` on): `'auto'` confirms each message as
   * it arrives, as `@wshub/client` does once its handlers returned (one
   * frame for the messages of one turn); `'manual'` confirms only on
   * {@link ack}. Set it with `hub.connect(user, { ack })`.
   */
  ackMode: 'auto' | 'manual' = 'auto';
  /** Whether the hub takes confirmations: its welcome did not say `receipts: false` (ids on frames are then the sender's `options.id`). */
  private confirms = true;
  private toConfirm: string[] = [];
  private readonly queue = new MessageQueue('FakeSocket');
  private readonly acks = new Map<number, Ack>();
  private nextId = 1;
  private resuming = false;
  private readonly closedPromise: Promise<CloseInfo>;
  private resolveClosed!: (info: CloseInfo) => void;
  private session: Session | undefined;

  constructor() {
    this.closedPromise = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  /** Every message the hub sent this socket, as a client parses it (after `serialize`), in order. */
  get received(): readonly ReceivedMessage[] {
    return this.queue.messages;
  }

  /**
   * The first message not taken yet (of `event`, when given). Rejects after
   * `timeout` ms, or when the socket closes, with a message naming what did arrive.
   */
  next<D = unknown>(event?: string, options?: NextOptions): Promise<ReceivedMessage<D>> {
    return this.queue.next<D>(event, options);
  }

  /** Sends `{ event, data }` to the hub as a client would; settles once the hub handled it. */
  emit(event: string, data?: unknown): Promise<void> {
    return this.sendText(JSON.stringify(data === undefined ? { event } : { event, data }));
  }

  /** Sends a raw text frame, for tests of malformed input; settles once the hub handled it. */
  sendText(text: string): Promise<void> {
    if (this.readyState !== OPEN || !this.session) {
      return Promise.reject(new Error(`FakeSocket: cannot send, the socket is ${this.describeState()}`));
    }
    return this.session.receive(text, false);
  }

  /**
   * Asks to watch `event` (scoped to `payload`, or every payload when it is
   * omitted) through the hub's real rules, and resolves with the hub's
   * answer: `'allowed'` once the watch is registered, `'forbidden'` when
   * `canWatch` refused. Rejects with the hub's own sentence when the request
   * is invalid or over the watch limit.
   */
  async watch(event: string, payload?: string | number | null): Promise<WatchResult> {
    return (await this.request(WATCH, event, payload)) as WatchResult;
  }

  /** Removes exactly that watch (no payload: the wildcard watch). Rejects with the hub's sentence when invalid. */
  async unwatch(event: string, payload?: string | number | null): Promise<void> {
    await this.request(UNWATCH, event, payload);
  }

  private async request(kind: typeof WATCH | typeof UNWATCH, event: string, payload: string | number | null | undefined) {
    const id = this.nextId++;
    const { frame, body } = watchRequest(kind, event, payload, id);
    await this.sendText(frame);
    const ack = this.acks.get(id);
    this.acks.delete(id);
    if (!ack) throw new Error(`FakeSocket: ${kind} ${JSON.stringify(body)} got no answer; the socket is ${this.describeState()}`);
    return settleAck('FakeSocket', kind, body, ack);
  }

  /** Resolves with `{ code, reason }` once the socket closed, from either side. */
  waitForClose(): Promise<CloseInfo> {
    return this.closedPromise;
  }

  /**
   * The client leaves: the hub sees `code` (1005, "no status", when
   * omitted), and its `'disconnected'` follows at once.
   */
  close(code: number = NO_STATUS, reason = ''): void {
    this[kServerClose](code, reason);
  }

  /** Drops the connection without a close frame: the client sees 1006. */
  terminate(): void {
    this[kServerClose](ABNORMAL, '');
  }

  [kServerClose](code: number, reason: string): void {
    if (this.readyState >= 2) return;
    this.readyState = CLOSED;
    this.closed = { code, reason };
    this.queue.close(this.closed);
    this.resolveClosed(this.closed);
    this.session?.closed(code, reason);
  }

  /** Links the hub's session; a close that happened while the hub was still opening it (a refusal) is reported now. */
  [kAttach](session: Session): void {
    this.session = session;
    if (this.closed) session.closed(this.closed.code, this.closed.reason);
  }

  /**
   * Renews the session on this socket with `token`, as `@wshub/client` does
   * when the hub announces the expiry: resolves with the new `expiresAt`
   * (undefined when the user has none); rejects when the hub has no
   * `refresh` hook. A refused token closes the socket with 4403 (see
   * `closed`), and the promise rejects with that.
   */
  async refresh(token: string): Promise<number | undefined> {
    const id = this.nextId++;
    await this.sendText(JSON.stringify({ event: REFRESH, id, data: { token } }));
    const ack = this.acks.get(id);
    this.acks.delete(id);
    if (!ack) throw new Error(`FakeSocket: refresh got no answer; the socket is ${this.describeState()}`);
    if (ack.status !== 'refreshed') {
      throw new Error(`FakeSocket: refresh was answered ${ack.status}${ack.message ? `: ${ack.message}` : ''}`);
    }
    this.expiresAt = ack.expiresAt;
    return ack.expiresAt;
  }

  /**
   * Asks the hub for what this user missed since `from` (a position kept
   * from an earlier socket); the replayed messages land in `received`, and
   * `recovered` says how it went. `FakeHub.connect(…, { resumeFrom })` calls it.
   */
  async resume(from: Position): Promise<{ recovered: boolean; missed: number }> {
    const id = this.nextId++;
    this.resuming = true;
    try {
      await this.sendText(JSON.stringify({ event: RESUME, id, data: from }));
    } finally {
      this.resuming = false;
    }
    const ack = this.acks.get(id);
    this.acks.delete(id);
    if (!ack) throw new Error(`FakeSocket: resume got no answer; the socket is ${this.describeState()}`);
    if (ack.status !== 'recovered' && ack.status !== 'failed') {
      throw new Error(`FakeSocket: resume was answered ${ack.status}${ack.message ? `: ${ack.message}` : ''} (is recovery on?)`);
    }
    if (typeof ack.epoch === 'string' && typeof ack.offset === 'number') {
      this.position = { epoch: ack.epoch, offset: Math.max(ack.offset, this.position?.offset ?? 0) };
    }
    this.recovered = { recovered: ack.status === 'recovered', missed: ack.missed ?? 0 };
    return this.recovered;
  }

  /**
   * Confirms messages to the hub (receipts), by id or as received: its
   * `'delivered'` fires for this socket. With `ack: 'auto'` the socket has
   * done it already. Resolves once the hub handled the confirmation.
   */
  ack(...messages: Array<string | ReceivedMessage>): Promise<void> {
    const ids = messages.map((m) => (typeof m === 'string' ? m : m.id)).filter((id): id is string => typeof id === 'string');
    if (ids.length === 0) return Promise.resolve();
    return this.sendText(JSON.stringify({ event: CONFIRM, data: { ids } }));
  }

  /** The auto confirmations of one turn, in one frame. */
  private confirmLater(id: string): void {
    this.toConfirm.push(id);
    if (this.toConfirm.length > 1) return;
    queueMicrotask(() => {
      const ids = this.toConfirm;
      this.toConfirm = [];
      if (this.readyState === OPEN) void this.ack(...ids);
    });
  }

  [kDeliver](message: ReceivedMessage & { offset?: unknown; scope?: unknown }): void {
    if (this.readyState !== OPEN) return;
    const ack = ackOf(message);
    if (ack && typeof ack.id === 'number') this.acks.set(ack.id, ack);
    if (message.event === EXPIRING) this.expiresAt = (message.data as { expiresAt?: number } | null)?.expiresAt;
    if (message.event === WELCOME && !this.resuming) {
      // The welcome follows the handshake, so `user` is the one authenticate gave; the wire does not repeat its expiry.
      this.expiresAt = expiryOf(this.user);
      this.position = parsePosition((message.data as { recovery?: unknown } | null)?.recovery);
      this.confirms = (message.data as { receipts?: unknown } | null)?.receipts !== false;
    }
    if (isProtocolFrame(message)) return;
    // `scope` tells a shared connection which tabs a message is for; a fake socket is one tab.
    const { offset, scope: _scope, ...plain } = message;
    if (typeof offset === 'number' && this.position) this.position = { ...this.position, offset };
    this.queue.push(plain);
    if (typeof plain.id === 'string' && this.ackMode === 'auto' && this.confirms) this.confirmLater(plain.id);
  }

  private describeState(): string {
    return this.closed ? `closed (${describeClose(this.closed.code, this.closed.reason)})` : 'open';
  }
}

function expiryOf(user: HubUser | undefined): number | undefined {
  const expiresAt = user?.expiresAt;
  return typeof expiresAt === 'number' && Number.isFinite(expiresAt) ? expiresAt : undefined;
}
