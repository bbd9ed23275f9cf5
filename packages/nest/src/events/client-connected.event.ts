import type { IncomingMessage } from 'node:http';
import { deferred } from '../deferred.js';

/**
 * Published for every new connection, before it is authorized. A handler
 * calls `resolve(user)` (an object with string `id` and `deviceFingerprint`)
 * to accept it, or `reject(error)` to refuse it with 4403. With no answer
 * within `authTimeoutMs` the client is closed with 4408.
 */
export class ClientConnectedEvent<T = any> {
  /** Settles with the handler's answer; the module awaits it. */
  readonly user: Promise<T>;
  /** Accepts the connection as `user`. Bound: may be passed around. */
  readonly resolve: (user: T) => void;
  /** Refuses the connection; the client gets 4403, never the error's text. Bound. */
  readonly reject: (reason?: unknown) => void;

  /**
   * @param incomingMessage the HTTP upgrade request: headers, cookies, `url`
   * with its query. A request a server received always has a `url`, so it is
   * typed as a string.
   */
  constructor(readonly incomingMessage: IncomingMessage & { url: string }) {
    const answer = deferred<T>();
    this.user = answer.promise;
    this.resolve = answer.resolve;
    this.reject = answer.reject;
  }
}
