import {
  type Connection,
  Hub,
  type Position,
  type HubOptions,
  type HubRequest,
  type HubSocket,
  type HubUser,
  type PreparedMessage,
} from '@wshub/core';
import { SUBPROTOCOL } from '@wshub/core/protocol';
import { ConnectionRefusedError } from './connection-refused-error.js';
import { type FakeRequestInit, isRequestInit, toRequest } from './fake-request.js';
import { FakeSocket, kAttach, kDeliver, kServerClose } from './fake-socket.js';
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
  /** The message's id, when the hub has receipts on. */
  id?: string;
  /** Receipts: whether this socket confirmed it (the hub's `'delivered'` fired for it). */
  confirmed?: boolean;
  /** Receipts: when it was confirmed (`Date.now()` of the hub, fake timers included). */
  confirmedAt?: number;
}

/** Users handed to `connect()` directly, by the request that carries them through the handshake. */
const usersByRequest = new WeakMap<object, unknown>();
/** What the app's `authenticate` threw or rejected with, by request. */
const refusals = new WeakMap<object, unknown>();

const NORMAL_CLOSURE = 1000;
const ABNORMAL = 1006;
/** The WebSocket code for "try again later": a fake's answer where a real hub sends HTTP 503. */
const TRY_AGAIN_LATER = 1013;

/**
 * A hub with no network and no port, for unit tests. It is core's `Hub` —
 * the same handshake, rooms, watch rules, delivery filter and limits as
 * `WsHub`, which is the same `Hub` behind the `ws` adapter — behind an
 * in-memory adapter of {@link FakeSocket}s, and it records every message it
 * writes in {@link deliveries}.
 *
 * ```ts
 * const hub = new FakeHub<User>({ authenticate, canWatch });
 * const phone = await hub.connect({ query: { token: 'bob-token' } });
 * expect(await phone.watch('order-status', 42)).toBe('allowed');
 * await hub.sendMessage('bob', 'order-status', { status: 'shipped' }, 42);
 * expect(phone.received).toEqual([{ event: 'order-status', data: { status: 'shipped' } }]);
 * ```
 */
export class FakeHub<User extends HubUser = HubUser> extends Hub<User, FakeSocket<User>> {
  /**
   * Every message the hub delivered (`sendMessage`, `push`, and deliveries
   * from other nodes through a broker), per socket, in order. The hub's own
   * replies — forbidden watch, exception — are not deliveries; they are in
   * the socket's `received`.
   */
  readonly deliveries: Delivery[] = [];
  private readonly hasAuthenticate: boolean;
  /** Open sockets, for `reset()`. */
  private readonly openSockets = new Set<FakeSocket<User>>();

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
    if (options.receipts) {
      this.on('delivered', ({ id, socketId, at }) => {
        for (const d of this.deliveries) {
          if (d.id === id && d.socketId === socketId && !d.confirmed) {
            d.confirmed = true;
            d.confirmedAt = at;
          }
        }
      });
    }
  }

  /**
   * Opens a device session through the real handshake. Given a request-like
   * object (`{ url?, query?, headers?, cookies? }`, see {@link FakeRequestInit}),
   * the app's `authenticate` decides; given a user object (anything with an
   * `id`), that user is accepted as if `authenticate` had returned it — still
   * checked by the hub's rules (`id` and `deviceFingerprint` must be strings).
   *
   * With `{ ack: 'manual' }` the socket confirms messages (receipts) only on
   * `socket.ack(message)`; by default it confirms each one as it arrives.
   *
   * With `{ resumeFrom }` (a `FakeSocket` of the same user, or its
   * `position`) the new socket then resumes as `@wshub/client` does after a
   * reconnect: what was sent meanwhile lands in its `received`, and its
   * `recovered` says `{ recovered, missed }`. Needs `recovery` on the hub.
   *
   * Resolves once the socket is authorized; rejects with a
   * {@link ConnectionRefusedError} carrying the close code (4403, 4408, 1001;
   * 1013 when `limits.maxPendingSockets` handshakes are pending, where a
   * real hub answers HTTP 503) and, as `cause`, what `authenticate` threw.
   */
  async connect(
    userOrRequest: User | FakeRequestInit,
    options: { resumeFrom?: FakeSocket<User> | Position; ack?: 'auto' | 'manual' } = {},
  ): Promise<FakeHubSocket<User>> {
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
      request = toRequest(userOrRequest, this.path);
    } else {
      request = toRequest({}, this.path);
      usersByRequest.set(request, userOrRequest);
    }
    if (!this.isClosing && !this.acceptsConnections) {
      throw new ConnectionRefusedError(TRY_AGAIN_LATER, 'too many pending handshakes');
    }
    const socket = new FakeSocket<User>();
    if (options.ack === 'manual') socket.ackMode = 'manual';
    const connection: Connection = {
      get readyState() {
        return socket.readyState;
      },
      backlog: () => socket.bufferedAmount,
      write: (message) => this.record(socket, message),
      close: (code, reason) => socket[kServerClose](code, reason),
      terminate: () => socket[kServerClose](ABNORMAL, ''),
    };
    this.openSockets.add(socket);
    void socket.waitForClose().then(() => this.openSockets.delete(socket));
    socket[kAttach](this.open({ socket, connection, request, protocol: SUBPROTOCOL }));
    const hubSocket = socket as FakeHubSocket<User>;
    if (await hubSocket.isAuthorized) {
      const from = options.resumeFrom instanceof FakeSocket ? options.resumeFrom.position : options.resumeFrom;
      if (options.resumeFrom !== undefined) {
        if (!from) throw new TypeError('wshub FakeHub: connect() got resumeFrom without a position: is recovery on, and did that socket connect?');
        await hubSocket.resume(from);
      }
      return hubSocket;
    }
    const { code, reason } = socket.closed ?? { code: ABNORMAL, reason: '' };
    throw new ConnectionRefusedError(code, reason, refusals.has(request) ? { cause: refusals.get(request) } : undefined);
  }

  /**
   * Closes every socket as if its client left (1000) and forgets the
   * recorded deliveries, so one fake can serve many tests. Stats counters keep counting.
   */
  reset(): void {
    for (const socket of [...this.openSockets]) socket.close(NORMAL_CLOSURE, '');
    this.deliveries.length = 0;
  }

  /** `await using hub = new FakeHub(…)` closes it at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The in-memory write: the client side parses the frame; deliveries (not the hub's replies) are recorded. */
  private record(socket: FakeSocket<User>, message: PreparedMessage): void {
    const parsed = JSON.parse(message.text) as ReceivedMessage;
    socket[kDeliver](parsed);
    if (message.reply) return;
    const hubSocket = socket as FakeHubSocket<User>;
    const delivery: Delivery = {
      userId: hubSocket.roomId,
      deviceFingerprint: hubSocket.deviceFingerprint,
      socketId: hubSocket.id,
      event: parsed.event,
      data: parsed.data,
    };
    // With receipts off an id on the frame is the sender's `options.id`, which nothing confirms.
    if (message.receipt) Object.assign(delivery, { id: parsed.id, confirmed: false });
    this.deliveries.push(delivery);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/** A fake socket as the hub holds it (the fields are declared on `FakeSocket` already). */
export type FakeHubSocket<User extends HubUser = HubUser> = HubSocket<User, FakeSocket<User>>;
