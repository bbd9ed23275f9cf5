/**
 * The broker counters `hub.stats().broker` may hold, and the metric each
 * becomes. `RedisBroker` reports all of them (its `RedisBrokerStats`);
 * `InMemoryBroker` and other `ClusterBroker`s the first three; `LocalBroker`
 * none. A metric exists only for the keys the hub's broker reports when
 * metrics are registered, so a single node exposes no broker metrics rather
 * than a `broker_up 0` that would read as an outage. Keys not listed here
 * are not exported.
 */
export interface BrokerMetric {
  /** The key in `hub.stats().broker`. */
  key: string;
  /** The metric name after the prefix. */
  name: string;
  type: 'counter' | 'gauge';
  help: string;
}

export const BROKER_METRICS: readonly BrokerMetric[] = [
  { key: 'published', name: 'broker_published_total', type: 'counter', help: 'Envelopes this node published to the broker (held ones included).' },
  { key: 'received', name: 'broker_received_total', type: 'counter', help: 'Envelopes from other nodes that reached this node.' },
  { key: 'ignored', name: 'broker_malformed_total', type: 'counter', help: 'Malformed messages on a wshub channel, dropped.' },
  { key: 'connected', name: 'broker_up', type: 'gauge', help: '1 while the broker connection is ready, 0 during an outage.' },
  { key: 'subscribed', name: 'broker_subscribed_channels', type: 'gauge', help: 'Channels the broker confirmed subscribed for this node.' },
  { key: 'held', name: 'broker_held_publishes', type: 'gauge', help: 'Publishes waiting for the broker to come back.' },
  { key: 'heldBytes', name: 'broker_held_bytes', type: 'gauge', help: 'Bytes of the publishes waiting for the broker to come back.' },
  { key: 'flushed', name: 'broker_flushed_total', type: 'counter', help: 'Held publishes sent once the broker came back.' },
  { key: 'bufferDropped', name: 'broker_held_dropped_total', type: 'counter', help: 'Held publishes dropped because the outage buffer was full.' },
  { key: 'bufferExpired', name: 'broker_held_expired_total', type: 'counter', help: 'Held publishes dropped for waiting longer than the buffer allows.' },
  { key: 'publishFailed', name: 'broker_publish_failures_total', type: 'counter', help: 'Publishes the broker answered with an error or that failed in flight.' },
  { key: 'publishPendingBytes', name: 'broker_publish_pending_bytes', type: 'gauge', help: 'Bytes of publishes handed to the broker and not answered yet.' },
  { key: 'publishWaits', name: 'broker_publish_waits_total', type: 'counter', help: 'Sends that waited for the broker to answer earlier publishes (flow control).' },
  { key: 'publishRefused', name: 'broker_publish_refused_total', type: 'counter', help: 'Sends refused because too many publishes waited for the broker to answer.' },
  { key: 'subscriberRestarts', name: 'broker_subscriber_restarts_total', type: 'counter', help: 'Subscriber connections replaced after a failed liveness probe.' },
  { key: 'reconnects', name: 'broker_reconnects_total', type: 'counter', help: 'Times the broker connection came back after an outage.' },
];
