import type { AuthWebSocket } from '../auth-web-socket.js';

/**
 * Published for every valid client frame other than `watch`/`unwatch`, e.g.
 * `{ "event": "typing", "data": { "orderId": 42 } }`.
 */
export class ClientMessageEvent<T = any, D = unknown> {
  constructor(
    readonly userId: string,
    readonly deviceFingerprint: string,
    readonly socket: AuthWebSocket<T>,
    readonly event: string,
    readonly data: D,
  ) {}
}
