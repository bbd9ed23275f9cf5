import type { HubUser, TransportSocket } from '@wshub/core';
import { UNWATCH, WATCH } from '@wshub/core/protocol';
import { type CloseInfo, describeClose, MessageQueue, type NextOptions, type ReceivedMessage } from './message-queue.js';
import { exceptionText, findException, findForbiddenReply, type WatchResult, watchRequest } from './watch-reply.js';

/** How a fake socket reaches its hub (the hub's transport methods are protected). */
export interface FakeSocketLink {
  receive(socket: FakeSocket<any>, text: string): Promise<void>;
  closed(socket: FakeSocket<any>, code: number, reason: string): void;
}

/** Hands a frame the hub wrote to the socket; kept off the public surface. */
export const kDeliver = Symbol('wshub.fake.deliver');

const OPEN = 1;
const CLOSED = 3;
/** What a server sees when a client closes without a status code (RFC 6455 §7.1.5). */
const NO_STATUS = 1005;
/** What a client sees when the connection drops without a close frame. */
const ABNORMAL = 1006;

/**
 * One device session on a {@link FakeHub}, without a network. It is both
 * sides at once: the transport socket the hub writes to (the hub decorates it
 * with `id`, `user`, `watching`, … like a real `HubSocket`), and the client,
 * which sends frames with {@link emit} / {@link watch} and reads what it got
 * in {@link received}.
 */
export class FakeSocket<User extends HubUser = HubUser> implements TransportSocket {
  // Set by the hub when it accepts the socket (see HubSocketFields in @wshub/core).
  declare id: string;
  declare roomId: string;
  declare deviceFingerprint: string;
  declare user: User;
  declare watching: Map<string, Set<string | null>>;
  declare isAuthorized: Promise<boolean>;

  readyState: number = OPEN;
  /** Always 0: nothing queues in memory. Assign a number to make the hub treat this socket as a slow reader. */
  bufferedAmount = 0;
  /** How the socket closed (`{ code, reason }` as a client sees it), once it did. */
  closed: CloseInfo | undefined;

  private readonly queue = new MessageQueue('FakeSocket');
  private readonly closedPromise: Promise<CloseInfo>;
  private resolveClosed!: (info: CloseInfo) => void;

  constructor(private readonly link: FakeSocketLink) {
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
    if (this.readyState !== OPEN) {
      return Promise.reject(new Error(`FakeSocket: cannot send, the socket is ${this.describeState()}`));
    }
    return this.link.receive(this, text);
  }

  /**
   * Asks to watch `event` (scoped to `payload`, or every payload when it is
   * omitted) through the hub's real rules. Resolves `'allowed'` once the watch
   * is registered, `'forbidden'` when `canWatch` refused; rejects with the
   * hub's own sentence when the request is invalid or over the watch limit.
   * The forbidden reply stays in `received` but is not returned by `next()`.
   */
  async watch(event: string, payload?: string | number | null): Promise<WatchResult> {
    const { frame, body, scope } = watchRequest(WATCH, event, payload);
    const replies = await this.request(frame);
    if (scope.ok && this.watching?.get(scope.event)?.has(scope.payload)) return 'allowed';
    const forbidden = findForbiddenReply(replies, scope);
    if (forbidden) {
      this.queue.take(forbidden);
      return 'forbidden';
    }
    throw this.unanswered(WATCH, body, replies);
  }

  /** Removes exactly that watch (no payload: the wildcard watch). Rejects with the hub's sentence when invalid. */
  async unwatch(event: string, payload?: string | number | null): Promise<void> {
    const { frame, body } = watchRequest(UNWATCH, event, payload);
    const replies = await this.request(frame);
    if (findException(replies)) throw this.unanswered(UNWATCH, body, replies);
  }

  /** Sends a frame and returns what the hub wrote back while handling it. */
  private async request(frame: string): Promise<ReceivedMessage[]> {
    const before = this.queue.messages.length;
    await this.sendText(frame);
    return this.queue.messages.slice(before);
  }

  private unanswered(kind: string, body: object, replies: ReceivedMessage[]): Error {
    const request = `${kind} ${JSON.stringify(body)}`;
    const exception = findException(replies);
    if (exception) {
      this.queue.take(exception);
      return new Error(`FakeSocket: ${request} was rejected: ${exceptionText(exception)}`);
    }
    return new Error(`FakeSocket: ${request} got no answer; the socket is ${this.describeState()}`);
  }

  /** Resolves with `{ code, reason }` once the socket closed, from either side. */
  waitForClose(): Promise<CloseInfo> {
    return this.closedPromise;
  }

  /**
   * Closes the socket. Called by a test, it is the client leaving: the hub
   * sees `code` (1005, "no status", when omitted). Called by the hub, it is
   * the server's close frame. Either way the hub's `'disconnected'` follows at once.
   */
  close(code: number = NO_STATUS, reason = ''): void {
    if (this.readyState >= 2) return;
    this.readyState = CLOSED;
    this.closed = { code, reason };
    this.queue.close(this.closed);
    this.resolveClosed(this.closed);
    this.link.closed(this, code, reason);
  }

  /** Drops the connection without a close frame: the client sees 1006. */
  terminate(): void {
    this.close(ABNORMAL, '');
  }

  /** Part of the transport contract; the fake hub writes through {@link kDeliver} instead. */
  send(data: string | Buffer): void {
    this[kDeliver](JSON.parse(typeof data === 'string' ? data : data.toString('utf8')) as ReceivedMessage);
  }

  [kDeliver](message: ReceivedMessage): void {
    if (this.readyState === OPEN) this.queue.push(message);
  }

  private describeState(): string {
    return this.closed ? `closed (${describeClose(this.closed.code, this.closed.reason)})` : 'open';
  }
}
