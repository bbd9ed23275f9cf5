import type { HubUser } from '../config/options.js';
import type { SocketSession } from './socket-session.js';

/**
 * The fields the hub adds to each socket object apps see: the shape of
 * `@kovalenko/nestjs-websocket`'s `AuthWebSocket`, read-only. The hub keeps
 * its own state; these read it.
 */
export interface HubSocketFields<User> {
  /** Unique connection id. */
  readonly id: string;
  /** The user's id (`user.id`): the room all that user's sockets share. Set once authorized. */
  readonly roomId: string;
  readonly deviceFingerprint: string;
  readonly user: User;
  /** The socket's watches (event → scopes, `null` for a wildcard), as a copy: changing it changes nothing. */
  readonly watching: Map<string, Set<string | null>>;
  /** Resolves `true` once authorized; `false` if auth fails or the socket closes first. Never hangs. */
  readonly isAuthorized: Promise<boolean>;
}

/** A transport's socket object with the hub's fields. */
export type HubSocket<User = HubUser, S extends object = object> = S & HubSocketFields<User>;

const kSession = Symbol('wshub.session');
type Decorated = { [kSession]: SocketSession<unknown, object> };

/** Getters shared by every decorated socket (no closure per socket). */
const socketFields: PropertyDescriptorMap = {
  roomId: {
    get(this: Decorated) {
      return this[kSession].userId || undefined;
    },
    enumerable: true,
    configurable: true,
  },
  deviceFingerprint: {
    get(this: Decorated) {
      return this[kSession].deviceFingerprint || undefined;
    },
    enumerable: true,
    configurable: true,
  },
  user: {
    get(this: Decorated) {
      return this[kSession].user;
    },
    enumerable: true,
    configurable: true,
  },
  watching: {
    get(this: Decorated) {
      const copy = new Map<string, Set<string | null>>();
      for (const [event, scopes] of this[kSession].watching) copy.set(event, new Set(scopes));
      return copy;
    },
    enumerable: true,
    configurable: true,
  },
};

/** The session of a socket the hub decorated. */
export function sessionOf(socket: object): SocketSession<unknown, object> {
  return (socket as Decorated)[kSession];
}

/** `isAuthorized`, read from the session, which makes its promise only when asked while pending. */
const isAuthorized: PropertyDescriptor = {
  get(this: Decorated) {
    return this[kSession].isAuthorized;
  },
  enumerable: true,
  configurable: true,
};

/**
 * Adds the hub's read-only fields ({@link HubSocketFields}) to a transport's
 * socket object: `id` as a value, the rest as getters that read the
 * session, so the session stays their one owner.
 */
export function decorateSocket<User, S extends object>(socket: S, session: SocketSession<User, S>): HubSocket<User, S> {
  // defineProperties returns its argument typed as it came: the fields it added are invisible to the compiler.
  return Object.defineProperties(socket, {
    id: { value: session.id, enumerable: true, configurable: true },
    isAuthorized,
    [kSession]: { value: session, configurable: true },
    ...socketFields,
  }) as HubSocket<User, S>;
}
