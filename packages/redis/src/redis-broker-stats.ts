/**
 * `hub.stats().broker` of a {@link RedisBroker}. Counters only grow; `held`,
 * `heldBytes`, `publishPendingBytes`, `connected` and `subscribed` describe
 * the moment.
 */
export type RedisBrokerStats = {
  /** Envelopes this node published (including held ones). */
  published: number;
  /** Bytes (UTF-16 units) of publishes handed to Redis and not answered yet (flow control: `highWaterMarkBytes`). */
  publishPendingBytes: number;
  /** Sends that waited for Redis to answer earlier publishes (over `highWaterMarkBytes`). */
  publishWaits: number;
  /** Sends refused because `maxQueuedBytes` of messages waited for Redis's answer (publishes, and with recovery recordings); they delivered nothing. */
  publishRefused: number;
  /** Envelopes from other nodes that reached this node. */
  received: number;
  /** Malformed messages on a wshub channel. */
  ignored: number;
  /** Publishes waiting for Redis now… */
  held: number;
  /** …and their bytes. */
  heldBytes: number;
  /** Held publishes sent after a reconnect (on a cluster, once their shard's master settled). */
  flushed: number;
  /** Held publishes dropped because the buffer was full. */
  bufferDropped: number;
  /** Held publishes dropped for being older than `bufferMaxAgeMs`. */
  bufferExpired: number;
  /** Publishes Redis answered with an error (or that failed in flight). */
  publishFailed: number;
  /** Subscriber connections replaced after a failed liveness probe. */
  subscriberRestarts: number;
  /** Times the command connection came back. */
  reconnects: number;
  /** 1 while the command connection is ready, else 0. */
  connected: number;
  /** Channels Redis confirmed on the subscriber connections. */
  subscribed: number;
  /** With recovery: messages this node recorded in the Redis history. */
  recorded?: number;
  /** With recovery: messages delivered without an offset because Redis was unreachable. */
  unrecorded?: number;
  /** With recovery: recordings Redis answered with an error (or that failed in flight). */
  recordFailed?: number;
  /**
   * With recovery: times this node closed a user's v2 sockets (or all of
   * them, for broadcasts) with 1012 because its subscriber connection was
   * gone while messages for them were recorded; their clients resume.
   */
  resumeForced?: number;
  /**
   * With recovery on Redis Cluster: recorded messages that reached this node
   * too late to be delivered in offset order (their recipients resume, and
   * learn `recovered: false`).
   */
  outOfOrder?: number;
  /** With recovery: recorded messages (this node's included) that reached this node. */
  recordedReceived?: number;
};

/** The counters of the outage publisher, a part of {@link RedisBrokerStats}. */
export type PublisherCounters = Pick<RedisBrokerStats, 'flushed' | 'bufferDropped' | 'bufferExpired' | 'publishFailed'>;
