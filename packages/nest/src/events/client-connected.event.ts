import type { IncomingMessage } from 'node:http';

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
    let resolve!: (user: T) => void;
    let reject!: (reason?: unknown) => void;
    this.user = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A rejection nobody awaits (an event published outside the module) must not crash the process.
    this.user.catch(() => {});
    this.resolve = resolve;
    this.reject = reject;
  }
}
