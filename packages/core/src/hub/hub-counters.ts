/** The hub's counters, as `hub.stats()` reports them (with `connections`, `pending`, `users`, `broker`). */
export interface HubCounters {
  messagesIn: number;
  messagesOut: number;
  bytesOut: number;
  /** Deliveries not written: connection not open, write failed, or cut off as a slow consumer. */
  dropped: number;
  authRejected: number;
  authTimeouts: number;
  slowConsumers: number;
  /** Watches `canWatch` refused (returned something else than `true`, threw, or did not answer in time). */
  watchRefusals: number;
  /** v2 clients that resumed after a reconnect and got what they missed. */
  resumed: number;
  /** v2 clients whose resume could not be served in full (told `failed`: refetch your state). */
  resumeFailed: number;
  /** Receipts: ids this node's sockets confirmed that it had written to them. */
  receiptsConfirmed: number;
  /** Receipts: confirmed ids that were ignored (never written to that socket, another user's, repeated, or forgotten past the limits). */
  receiptsIgnored: number;
  /** Receipts this node owns: `'delivered'` emitted. */
  receiptsDelivered: number;
  /** Receipts this node owns: `'undelivered'` emitted. */
  receiptsUndelivered: number;
  errors: number;
}

export function newCounters(): HubCounters {
  return {
    messagesIn: 0,
    messagesOut: 0,
    bytesOut: 0,
    dropped: 0,
    authRejected: 0,
    authTimeouts: 0,
    slowConsumers: 0,
    watchRefusals: 0,
    resumed: 0,
    resumeFailed: 0,
    receiptsConfirmed: 0,
    receiptsIgnored: 0,
    receiptsDelivered: 0,
    receiptsUndelivered: 0,
    errors: 0,
  };
}
