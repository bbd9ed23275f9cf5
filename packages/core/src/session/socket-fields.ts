import type { SocketSession } from './socket-session.js';

const kSession = Symbol('wshub.session');
type Decorated = { [kSession]: SocketSession };

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

/**
 * Adds the hub's read-only fields ({@link HubSocketFields}) to a transport's
 * socket object: `id` and `isAuthorized` as values, the rest as getters that
 * read the session, so the session stays their one owner.
 */
export function decorateSocket(socket: object, session: SocketSession): void {
  Object.defineProperties(socket, {
    id: { value: session.id, enumerable: true, configurable: true },
    isAuthorized: { value: session.isAuthorized, enumerable: true, configurable: true },
    [kSession]: { value: session, configurable: true },
    ...socketFields,
  });
}
