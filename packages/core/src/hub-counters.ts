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
    errors: 0,
  };
}
