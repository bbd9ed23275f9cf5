import { deferred } from '../deferred.js';

/**
 * Published when a client renews its session on the open socket, before
 * it expires (protocol v2: `@wshub/client` does it on its own with its
 * `token` option). A handler checks `token` and calls `resolve(user)` with
 * the same user (same `id`) and a new `expiresAt`, or `reject(error)`. The
 * socket's user is then replaced and its watches go on; a rejection,
 * another user, or no answer within `authTimeoutMs` closes it with 4403.
 *
 * Sessions expire when the user a `ClientConnectedEvent` handler resolves
 * has an `expiresAt` (ms since the epoch): past it the socket closes with
 * 4401. Register a handler of this event to let clients refresh instead.
 */
export class SessionRefreshEvent<T = any> {
  /** Settles with the handler's answer; the module awaits it. */
  readonly refreshed: Promise<T>;
  /** Accepts the refresh with the user object to keep (with its new `expiresAt`). Bound. */
  readonly resolve: (user: T) => void;
  /** Refuses it; the client gets 4403, never the error's text. Bound. */
  readonly reject: (reason?: unknown) => void;

  constructor(
    /** The token the client sent. */
    readonly token: string,
    /** The socket's user now. */
    readonly user: T,
    readonly userId: string,
    readonly deviceFingerprint: string,
  ) {
    const answer = deferred<T>();
    this.refreshed = answer.promise;
    this.resolve = answer.resolve;
    this.reject = answer.reject;
  }
}
