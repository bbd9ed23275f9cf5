import type { HubObserver, HubStats } from '@wshub/core';
import { Counter, Gauge, type Metric, type Registry, register } from 'prom-client';
import { BROKER_METRICS } from './broker-metrics.js';
import { FastHistogram } from './fast-histogram.js';

/** What `collectHubMetrics` reads of a hub: any `Hub` or `WsHub` (or `FakeHub`) has it. */
export interface MeasuredHub {
  stats(): HubStats;
  observe(observer: HubObserver): () => void;
  onlineUsers(): Promise<string[]>;
  readonly isClosing: boolean;
}

export interface HubMetricsOptions {
  /** Where the metrics are registered. @default prom-client's global `register` (the one `@willsoto/nestjs-prometheus` serves) */
  registry?: Registry;
  /** Put before every metric name. @default 'wshub_' */
  prefix?: string;
  /**
   * Report `<prefix>cluster_users` from `hub.onlineUsers()` on every scrape
   * (one presence query to the broker; with `RedisBroker` a read of the
   * presence hash). Turn it off when scrapes must not touch Redis.
   * @default true
   */
  clusterUsers?: boolean;
  /** Histogram buckets in seconds, per histogram. */
  buckets?: {
    /** @default AUTH_BUCKETS */
    auth?: number[];
    /** @default WATCH_BUCKETS */
    watch?: number[];
    /** @default DELIVERY_BUCKETS */
    delivery?: number[];
  };
}

/** `authenticate` runs your code (a session lookup, a token check): 1 ms to the 10 s default timeout. */
export const AUTH_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** `canWatch` is often synchronous: from 50 µs up to the 10 s default timeout. */
export const WATCH_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10];
/** A `sendMessage` takes microseconds; a `push` to thousands of users with callbacks, up to seconds. */
export const DELIVERY_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
];

type CounterKey =
  | 'messagesIn'
  | 'messagesOut'
  | 'bytesOut'
  | 'dropped'
  | 'authRejected'
  | 'authTimeouts'
  | 'slowConsumers'
  | 'watchRefusals'
  | 'receiptsConfirmed'
  | 'receiptsIgnored'
  | 'receiptsDelivered'
  | 'receiptsUndelivered';

const HUB_COUNTERS: ReadonlyArray<{ key: CounterKey; name: string; help: string }> = [
  { key: 'messagesIn', name: 'messages_received_total', help: 'Frames received from clients.' },
  { key: 'messagesOut', name: 'messages_sent_total', help: 'Messages written to sockets (one per socket per delivery).' },
  { key: 'bytesOut', name: 'sent_bytes_total', help: 'Bytes of the messages written to sockets.' },
  {
    key: 'dropped',
    name: 'dropped_deliveries_total',
    help: 'Deliveries not written: socket not open, write failed, or cut off as a slow consumer.',
  },
  { key: 'slowConsumers', name: 'slow_consumers_total', help: 'Sockets cut off (4008) for leaving more than maxBufferedBytes unread.' },
  { key: 'authRejected', name: 'auth_rejections_total', help: 'Sockets authenticate refused (4403).' },
  { key: 'authTimeouts', name: 'auth_timeouts_total', help: 'Sockets whose authenticate did not settle within authTimeoutMs (4408).' },
  { key: 'watchRefusals', name: 'watch_refusals_total', help: 'Watches canWatch refused, threw on or did not answer in time.' },
  { key: 'receiptsConfirmed', name: 'receipts_confirmed_total', help: "Receipts: message ids this node's sockets confirmed." },
  {
    key: 'receiptsIgnored',
    name: 'receipts_ignored_total',
    help: 'Receipts: confirmed ids ignored (never written to that socket, another user’s, repeated, or forgotten).',
  },
  { key: 'receiptsDelivered', name: 'receipts_delivered_total', help: "Receipts: 'delivered' emitted by this node as the sender." },
  { key: 'receiptsUndelivered', name: 'receipts_undelivered_total', help: "Receipts: 'undelivered' emitted by this node as the sender." },
];

const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Registers the hub's metrics on a prom-client registry and returns a
 * function that removes them (and stops observing the hub).
 *
 * Gauges and counters are read from `hub.stats()` when the registry is
 * scraped, so they are the hub's own numbers and cannot drift; the
 * histograms are fed by `hub.observe()`, which costs two clock reads and one
 * typed-array update ({@link FastHistogram}) per auth, watch check and
 * `sendMessage`/`push` call. Register
 * one hub per registry and prefix: a second registration of the same names
 * throws prom-client's error naming the metric.
 */
export function collectHubMetrics(hub: MeasuredHub, options: HubMetricsOptions = {}): () => void {
  if (typeof hub !== 'object' || hub === null || typeof hub.stats !== 'function' || typeof hub.observe !== 'function') {
    throw new TypeError(`wshub: collectHubMetrics(hub) needs a Hub (or WsHub), got ${hub === null ? 'null' : typeof hub}`);
  }
  const registry = options.registry ?? register;
  const prefix = options.prefix ?? 'wshub_';
  if (typeof prefix !== 'string' || (prefix !== '' && !PREFIX.test(prefix))) {
    throw new TypeError(`wshub: metrics "prefix" must match ${PREFIX} (or be empty), got ${JSON.stringify(prefix)}`);
  }
  const registered: string[] = [];
  const name = (suffix: string) => prefix + suffix;
  const registers: Registry[] = [];
  // Registered one by one, so a failure removes only what this call added, never an existing metric of the same name.
  const add = <M extends Metric | FastHistogram>(metric: M): M => {
    registry.registerMetric(metric as Metric);
    // prom-client's metric classes hold their name; its Metric type does not declare it.
    registered.push((metric as unknown as { name: string }).name);
    return metric;
  };

  // One stats() per scrape: prom-client calls every collect() in one synchronous pass, so all the
  // numbers of a scrape come from the same moment (sockets ≥ pending, and so on).
  let snapshot: HubStats | undefined;
  const stats = (): HubStats => {
    if (!snapshot) {
      snapshot = hub.stats();
      queueMicrotask(() => {
        snapshot = undefined;
      });
    }
    return snapshot;
  };

  const remove: Array<() => void> = [];
  try {
    const gauge = (suffix: string, help: string, read: (s: HubStats) => number) =>
      add(new Gauge({
        name: name(suffix),
        help,
        registers,
        collect() {
          this.set(read(stats()));
        },
      }));
    gauge('sockets', 'Open WebSocket connections on this node, authorized or not.', (s) => s.connections);
    gauge('sockets_pending_auth', 'Sockets on this node whose authenticate has not settled.', (s) => s.pending);
    gauge('users', 'Distinct users with at least one socket on this node.', (s) => s.users);
    gauge('receipts_pending', 'Receipts this node waits for (0 with receipts off).', (s) => s.receiptsPending);
    add(new Gauge({
      name: name('closing'),
      help: '1 from the moment the hub starts closing (draining): it accepts no connection.',
      registers,
      collect() {
        this.set(hub.isClosing ? 1 : 0);
      },
    }));
    if (options.clusterUsers ?? true) {
      add(new Gauge({
        name: name('cluster_users'),
        help: 'Online users in the whole cluster (this node alone with no distributed broker); NaN when the broker cannot answer.',
        registers,
        async collect() {
          // A failed presence query must not fail the scrape; NaN says "unknown" without a stale number.
          this.set(await hub.onlineUsers().then((ids) => ids.length, () => Number.NaN));
        },
      }));
    }

    for (const { key, name: suffix, help } of HUB_COUNTERS) {
      add(new Counter({
        name: name(suffix),
        help,
        registers,
        collect() {
          this.reset();
          this.inc(stats()[key]);
        },
      }));
    }
    add(new Counter({
      name: name('errors_total'),
      help: "Errors reported through the hub's 'error' event, by source (canWatch, authenticate, broker, …).",
      labelNames: ['source'],
      registers,
      collect() {
        this.reset();
        for (const [source, count] of Object.entries(stats().errorsBySource)) this.inc({ source }, count);
      },
    }));

    const brokerKeys = hub.stats().broker;
    for (const metric of BROKER_METRICS) {
      if (typeof brokerKeys[metric.key] !== 'number') continue;
      const read = () => stats().broker[metric.key] ?? 0;
      if (metric.type === 'gauge') {
        add(new Gauge({
          name: name(metric.name),
          help: metric.help,
          registers,
          collect() {
            this.set(read());
          },
        }));
      } else {
        add(new Counter({
          name: name(metric.name),
          help: metric.help,
          registers,
          collect() {
            this.reset();
            this.inc(read());
          },
        }));
      }
    }

    const buckets = options.buckets ?? {};
    const auth = add(
      new FastHistogram(
        name('auth_duration_seconds'),
        'Time from a socket opening to authenticate accepting, refusing or timing out.',
        'outcome',
        ['accepted', 'refused', 'timeout'],
        buckets.auth ?? AUTH_BUCKETS,
      ),
    );
    const watch = add(
      new FastHistogram(
        name('watch_check_duration_seconds'),
        'Time canWatch took to answer a watch (or the timeout).',
        'outcome',
        ['allowed', 'forbidden', 'timeout', 'error'],
        buckets.watch ?? WATCH_BUCKETS,
      ),
    );
    const delivery = add(
      new FastHistogram(
        name('delivery_duration_seconds'),
        'Time from a sendMessage or push call to its last write on this node (push callbacks included).',
        'kind',
        ['send', 'push'],
        buckets.delivery ?? DELIVERY_BUCKETS,
      ),
    );
    const authSettled = {
      accepted: auth.series('accepted'),
      refused: auth.series('refused'),
      timeout: auth.series('timeout'),
    };
    const watchChecked = {
      allowed: watch.series('allowed'),
      forbidden: watch.series('forbidden'),
      timeout: watch.series('timeout'),
      error: watch.series('error'),
    };
    const delivered = { send: delivery.series('send'), push: delivery.series('push') };
    remove.push(
      hub.observe({
        authSettled: (seconds, outcome) => authSettled[outcome](seconds),
        watchChecked: (seconds, outcome) => watchChecked[outcome](seconds),
        delivered: (seconds, kind) => delivered[kind](seconds),
      }),
    );
  } catch (error) {
    for (const metric of registered) registry.removeSingleMetric(metric);
    for (const stop of remove) stop();
    throw error;
  }

  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    for (const stop of remove) stop();
    for (const metric of registered) registry.removeSingleMetric(metric);
  };
}
