import { HubCore, type HubOptions, type HubRequest, type HubSocket, type HubUser, type PreparedMessage } from '@wshub/core';
import { ConnectionRefusedError } from './connection-refused-error.js';
import { type FakeRequestInit, isRequestInit, toRequest } from './fake-request.js';
import { FakeSocket, type FakeSocketLink, kDeliver } from './fake-socket.js';
import type { ReceivedMessage } from './message-queue.js';

/**
 * Options of {@link FakeHub}: those of `WsHub` except what only a real
 * server does (`allowedOrigins`, `heartbeatMs`). `authenticate` is needed
 * only to connect with request-like objects.
 */
export interface FakeHubOptions<User extends HubUser>
  extends Omit<HubOptions<User, FakeSocket<User>>, 'authenticate' | 'allowedOrigins' | 'heartbeatMs'> {
  authenticate?: HubOptions<User, FakeSocket<User>>['authenticate'];
}

/** One message the hub wrote to one socket. */
export interface Delivery<D = unknown> {
  userId: string;
  deviceFingerprint: string;
  socketId: string;
  event: string;
  /** The data as a client parses it (after `serialize`). */
  data: D;
}

/** Users handed to `connect()` directly, by the request that carries them through the handshake. */
const usersByRequest = new WeakMap<object, unknown>();
/** What the app's `authenticate` threw or rejected with, by request. */
const refusals = new WeakMap<object, unknown>();

const NORMAL_CLOSURE = 1000;

/**
 * A hub with no network and no port, for unit tests. It is `HubCore` — the
 * same handshake, rooms, watch rules, delivery filter and limits as `WsHub` —
 * over in-memory {@link FakeSocket}s, and it records every message it writes
 * in {@link deliveries}.
 *
 * ```ts
 * const hub = new FakeHub<User>({ authenticate, canWatch });
 * const phone = await hub.connect({ query: { token: 'bob-token' } });
 * expect(await phone.watch('order-status', 42)).toBe('allowed');
 * await hub.sendMessage('bob', 'order-status', { status: 'shipped' }, 42);
 * expect(phone.received).toEqual([{ event: 'order-status', data: { status: 'shipped' } }]);
 * ```
 */
export class FakeHub<User extends HubUser = HubUser> extends HubCore<User, FakeSocket<User>> {
  /**
   * Every message the hub delivered (`sendMessage`, `push`, and deliveries
   * from other nodes through a broker), per socket, in order. The hub's own
   * replies — forbidden watch, exception — are not deliveries; they are in
   * the socket's `received`.
   */
  readonly deliveries: Delivery[] = [];
  private readonly hasAuthenticate: boolean;
  private readonly link: FakeSocketLink = {
    receive: (socket, text) => this.receive(socket as FakeHubSocket<User>, text, false),
    closed: (socket, code, reason) => this.closed(socket as FakeHubSocket<User>, code, reason),
  };

  constructor(options: FakeHubOptions<User> = {}) {
    const appAuthenticate = options.authenticate;
    super({
      ...options,
      authenticate(request: HubRequest): User | Promise<User> {
        if (usersByRequest.has(request)) return usersByRequest.get(request) as User;
        // Remember the app's reason: the hub never shows it to clients, but a refused connect() reports it.
        const refused = (error: unknown): never => {
          refusals.set(request, error);
          throw error;
        };
        try {
          const result = appAuthenticate!(request);
          return isThenable(result) ? Promise.resolve(result).catch(refused) : result;
        } catch (error) {
          return refused(error);
        }
      },
    });
    this.hasAuthenticate = typeof appAuthenticate === 'function';
  }

  /**
   * Opens a device session through the real handshake. Given a request-like
   * object (`{ url?, query?, headers?, cookies? }`, see {@link FakeRequestInit}),
   * the app's `authenticate` decides; given a user object (anything with an
   * `id`), that user is accepted as if `authenticate` had returned it — still
   * checked by the hub's rules (`id` and `deviceFingerprint` must be strings).
   *
   * Resolves once the socket is authorized; rejects with a
   * {@link ConnectionRefusedError} carrying the close code (4403, 4408, 1001)
   * and, as `cause`, what `authenticate` threw.
   */
  async connect(userOrRequest: User | FakeRequestInit): Promise<FakeHubSocket<User>> {
    if (typeof userOrRequest !== 'object' || userOrRequest === null) {
      throw new TypeError(
        `wshub FakeHub: connect() needs a user object or a request like { url, headers }, got ${userOrRequest === null ? 'null' : typeof userOrRequest}`,
      );
    }
    let request: HubRequest;
    if (isRequestInit(userOrRequest)) {
      if (!this.hasAuthenticate) {
        throw new TypeError(
          'wshub FakeHub: connect() got a request, but the hub has no "authenticate" option to decide on it; pass one, or connect with a user object',
        );
      }
      request = toRequest(userOrRequest, this.config.path);
    } else {
      request = toRequest({}, this.config.path);
      usersByRequest.set(request, userOrRequest);
    }
    const socket = this.accept(new FakeSocket<User>(this.link) as FakeHubSocket<User>, request);
    if (await socket.isAuthorized) return socket;
    const { code, reason } = socket.closed ?? { code: 1006, reason: '' };
    throw new ConnectionRefusedError(code, reason, refusals.has(request) ? { cause: refusals.get(request) } : undefined);
  }

  /**
   * Closes every socket as if its client left (1000) and forgets the
   * recorded deliveries, so one fake can serve many tests. Stats counters keep counting.
   */
  reset(): void {
    for (const socket of [...this.sockets]) socket.close(NORMAL_CLOSURE, '');
    this.deliveries.length = 0;
  }

  /** `await using hub = new FakeHub(…)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  protected override writeFrame(socket: FakeHubSocket<User>, message: PreparedMessage): void {
    socket[kDeliver](JSON.parse(message.text) as ReceivedMessage);
    // The hub's replies to one socket (forbidden watch, exception) are not deliveries.
    if (message.reply) return;
    const { event, data } = JSON.parse(message.text) as ReceivedMessage;
    this.deliveries.push({
      userId: socket.roomId,
      deviceFingerprint: socket.deviceFingerprint,
      socketId: socket.id,
      event,
      data,
    });
  }

  protected override stopTransport(): void {
    // Nothing to stop: no server, no timers of its own.
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** A fake socket as the hub holds it (the fields are declared on `FakeSocket` already). */
export type FakeHubSocket<User extends HubUser = HubUser> = HubSocket<User, FakeSocket<User>>;
