import { type Ack, SUBPROTOCOL, UNWATCH, WATCH } from '@wshub/core/protocol';
import { WebSocket } from 'ws';
import { closedError } from './connection-refused-error.js';
import {
  type CloseInfo,
  DEFAULT_NEXT_TIMEOUT_MS,
  describeClose,
  MessageQueue,
  type NextOptions,
  type ReceivedMessage,
} from './message-queue.js';
import { ackOf, isProtocolFrame, settleAck, type WatchResult, watchRequest } from './watch-reply.js';

export interface TestClientOptions {
  /** Query parameters added to the URL (e.g. `{ token: 'bob-token' }`). */
  query?: Record<string, string | number | boolean>;
  /** Headers of the upgrade request (e.g. `Cookie`, `Authorization`, `Origin`). */
  headers?: Record<string, string>;
  /**
   * Offered in `Sec-WebSocket-Protocol`. The default, `['wshub']`, speaks
   * protocol v2 as `@wshub/client` does: watches are answered, and
   * {@link TestClient.watch}, {@link TestClient.unwatch} and
   * {@link TestClient.sync} wait for those answers. Pass `[]` for a plain
   * client that sees exactly the frames of `@kovalenko/nestjs-websocket`
   * (then read what arrives with `next()`).
   * @default ['wshub']
   */
  protocols?: string | string[];
  /**
   * How long to wait for the connection to open, in ms.
   * @default 5000
   */
  timeout?: number;
}

/** An unwatch of this event is the barrier of `sync()`: never watched, always answered, reserved for the protocol. */
const SYNC_EVENT = 'wshub:sync';

interface PendingRequest {
  resolve(ack: Ack): void;
  reject(error: Error): void;
}

/**
 * A real `ws` client for integration tests against a running hub. Messages
 * queue up as they arrive; {@link next} takes them in order, {@link watch}
 * resolves to what the hub answered, {@link sync} waits for a round trip.
 * Create it with {@link connectTestClient}.
 */
export class TestClient {
  /** How the socket closed (`{ code, reason }`), once it did. */
  closed: CloseInfo | undefined;
  private readonly queue = new MessageQueue('TestClient');
  private readonly pending = new Map<number, PendingRequest>();
  private nextId = 1;
  private readonly closedPromise: Promise<CloseInfo>;

  /** Use {@link connectTestClient}. */
  constructor(readonly ws: WebSocket) {
    this.closedPromise = new Promise((resolve) => {
      ws.once('close', (code, reason) => {
        this.closed = { code, reason: reason.toString() };
        this.queue.close(this.closed);
        const error = closedError(
          `TestClient: the socket closed with ${describeClose(code, this.closed.reason)} before the hub answered`,
          code,
          this.closed.reason,
        );
        const waiting = [...this.pending.values()];
        this.pending.clear();
        for (const request of waiting) request.reject(error);
        resolve(this.closed);
      });
    });
    ws.on('message', (data) => this.onMessage(data.toString()));
  }

  /** Every message the hub sent, in order; the protocol's own answers (acks, welcome) are not listed. */
  get messages(): readonly ReceivedMessage[] {
    return this.queue.messages;
  }

  /** The subprotocol the hub selected ('' when none). */
  get protocol(): string {
    return this.ws.protocol;
  }

  private onMessage(text: string): void {
    let message: ReceivedMessage;
    try {
      message = JSON.parse(text) as ReceivedMessage;
    } catch {
      message = { event: '(not JSON)', data: text };
    }
    if (this.protocol === SUBPROTOCOL && isProtocolFrame(message)) {
      const ack = ackOf(message);
      if (ack && typeof ack.id === 'number') {
        const request = this.pending.get(ack.id);
        this.pending.delete(ack.id);
        request?.resolve(ack);
      }
      return;
    }
    // A v2 frame's `scope` is for clients that share one socket among consumers; the app's tests see `{ event, data }`.
    const { scope: _scope, ...received } = message as ReceivedMessage & { scope?: unknown };
    this.queue.push(received);
  }

  /**
   * The first message not taken yet (of `event`, when given); others stay
   * unread. Rejects after `timeout` ms, or as soon as the socket closes,
   * with a message naming the event and what did arrive.
   */
  next<D = unknown>(event?: string, options?: NextOptions): Promise<ReceivedMessage<D>> {
    return this.queue.next<D>(event, options);
  }

  /** Sends `{ event, data }` to the hub. */
  emit(event: string, data?: unknown): void {
    this.sendText(JSON.stringify(data === undefined ? { event } : { event, data }));
  }

  /** Sends a raw text frame. */
  sendText(text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) {
      throw new Error(`TestClient: cannot send, the socket ${this.describeState()}`);
    }
    this.ws.send(text);
  }

  /**
   * Resolves once the hub has handled every frame this client sent before —
   * which also means the socket is authorized, as frames wait for the
   * handshake. It is one request the hub answers (an unwatch of an event
   * reserved for this). When the socket closes first, rejects with a
   * `ConnectionRefusedError` for the handshake's codes (4403, 4408, 4429) —
   * as `FakeHub.connect()` does — or a `SocketClosedError` for any other;
   * both carry `code` and `reason`. Needs protocol v2 (the default).
   */
  async sync(options: NextOptions = {}): Promise<void> {
    await this.request(UNWATCH, SYNC_EVENT, undefined, options, 'sync');
  }

  /**
   * Watches `event` (scoped to `payload`; every payload when omitted) and
   * resolves with the hub's answer: `'allowed'` once it is registered,
   * `'forbidden'` when `canWatch` refused; rejects with the hub's sentence
   * when the request is invalid or over the limit. Needs protocol v2.
   */
  async watch(event: string, payload?: string | number | null, options?: NextOptions): Promise<WatchResult> {
    return (await this.request(WATCH, event, payload, options)) as WatchResult;
  }

  /** Removes exactly that watch; resolves once the hub answered. Needs protocol v2. */
  async unwatch(event: string, payload?: string | number | null, options?: NextOptions): Promise<void> {
    await this.request(UNWATCH, event, payload, options);
  }

  private async request(
    kind: typeof WATCH | typeof UNWATCH,
    event: string,
    payload: string | number | null | undefined,
    options: NextOptions | undefined,
    action: string = kind,
  ): Promise<WatchResult | undefined> {
    if (this.ws.readyState !== WebSocket.OPEN) return this.notOpen(action);
    if (this.protocol !== SUBPROTOCOL) {
      throw new Error(
        `TestClient: ${action}() waits for the hub's answer, which only protocol v2 gives; this client offered no "wshub" subprotocol (protocols: []), so read what arrives with next()`,
      );
    }
    const id = this.nextId++;
    const { frame, body } = watchRequest(kind, event, payload, id);
    const timeout = options?.timeout ?? DEFAULT_NEXT_TIMEOUT_MS;
    const ack = await new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`TestClient: the hub did not answer ${action} within ${timeout} ms (is the socket still authenticating?)`));
      }, timeout);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.ws.send(frame);
    });
    return settleAck('TestClient', kind, body, ack);
  }

  /** Resolves with `{ code, reason }` once the socket closed. */
  waitForClose(): Promise<CloseInfo> {
    return this.closedPromise;
  }

  /** Closes the socket (1000 when no code is given) and waits until it is closed. */
  close(code = 1000, reason?: string): Promise<CloseInfo> {
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return this.closedPromise;
  }

  /** `await using client = await connectTestClient(…)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Rejects for a socket that is not open; a closing one is awaited first, so the error carries its close code. */
  private async notOpen(action: string): Promise<never> {
    if (this.ws.readyState === WebSocket.CLOSING) await this.closedPromise;
    const message = `TestClient: cannot ${action}, the socket ${this.describeState()}`;
    if (this.closed) throw closedError(message, this.closed.code, this.closed.reason);
    throw new Error(message);
  }

  private describeState(): string {
    if (this.closed) return `closed with ${describeClose(this.closed.code, this.closed.reason)}`;
    return this.ws.readyState === WebSocket.CONNECTING ? 'is connecting' : 'is closing';
  }
}

/**
 * Connects a {@link TestClient} and resolves once the WebSocket is open —
 * before the hub's `authenticate` has decided; use `client.sync()` or
 * `client.waitForClose()` to see the outcome. Rejects when the server answers
 * the upgrade with an HTTP status instead (e.g. 403 for a refused origin), or
 * cannot be reached.
 *
 * ```ts
 * await using client = await connectTestClient(`${baseUrl}/api/v1/ws`, { query: { token: 'bob-token' } });
 * expect(await client.watch('order-status', 42)).toBe('allowed');
 * ```
 */
export function connectTestClient(url: string, options: TestClientOptions = {}): Promise<TestClient> {
  const target = new URL(url);
  for (const [key, value] of Object.entries(options.query ?? {})) target.searchParams.append(key, String(value));
  const timeout = options.timeout ?? 5000;
  return new Promise<TestClient>((resolve, reject) => {
    const ws = new WebSocket(target, options.protocols ?? [SUBPROTOCOL], { headers: options.headers, handshakeTimeout: timeout });
    // The client is created before 'open' so no frame sent right after the handshake is missed.
    const client = new TestClient(ws);
    const fail = (reason: string) => {
      ws.off('open', onOpen);
      ws.off('error', onError);
      ws.off('unexpected-response', onResponse);
      ws.terminate();
      reject(new Error(`TestClient: could not connect to ${target.href}: ${reason}`));
    };
    const onOpen = () => {
      ws.off('error', onError);
      ws.off('unexpected-response', onResponse);
      resolve(client);
    };
    const onError = (error: Error) => fail(error.message);
    const onResponse = (_request: unknown, response: { statusCode?: number }) =>
      fail(`the server answered the upgrade with HTTP ${response.statusCode} instead of switching protocols`);
    ws.once('open', onOpen);
    ws.once('error', onError);
    ws.once('unexpected-response', onResponse);
    // Errors after the handshake end in 'close'; without a listener they would be thrown.
    ws.on('error', () => {});
  });
}
