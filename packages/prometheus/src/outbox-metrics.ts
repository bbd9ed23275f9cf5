import { Counter, Gauge, type Metric, type Registry, register } from 'prom-client';

/** What `collectOutboxMetrics` reads of an `Outbox` of `@wshub/postgres`. */
export interface MeasuredOutbox {
  stats(): Promise<{ pending: number; oldestPendingSeconds: number; deadLettered: number }>;
}

/** What it reads of the `OutboxRelay` this process runs. */
export interface MeasuredRelay {
  stats(): { active: boolean; relayed: number; deadLettered: number; failures: number };
}

export interface OutboxMetricsOptions {
  /** Where the metrics are registered. @default prom-client's global `register` */
  registry?: Registry;
  /** Put before every metric name. @default 'wshub_' */
  prefix?: string;
}

const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * Registers the outbox's metrics and returns a function that removes them.
 * The table's numbers (`outbox.stats()`, one query per scrape) are the same
 * on every node; the relay's are this process's relay, when given.
 */
export function collectOutboxMetrics(outbox: MeasuredOutbox, relay?: MeasuredRelay, options: OutboxMetricsOptions = {}): () => void {
  if (typeof (outbox as MeasuredOutbox | null)?.stats !== 'function') {
    throw new TypeError(`wshub: collectOutboxMetrics(outbox) needs an Outbox, got ${outbox === null ? 'null' : typeof outbox}`);
  }
  if (relay !== undefined && typeof (relay as MeasuredRelay | null)?.stats !== 'function') {
    throw new TypeError(`wshub: collectOutboxMetrics(outbox, relay) needs an OutboxRelay or undefined, got ${relay === null ? 'null' : typeof relay}`);
  }
  const registry = options.registry ?? register;
  const prefix = options.prefix ?? 'wshub_';
  if (typeof prefix !== 'string' || (prefix !== '' && !PREFIX.test(prefix))) {
    throw new TypeError(`wshub: metrics "prefix" must match ${PREFIX} (or be empty), got ${JSON.stringify(prefix)}`);
  }
  const registers: Registry[] = [];
  const registered: string[] = [];
  const add = (metric: Metric) => {
    registry.registerMetric(metric);
    registered.push((metric as unknown as { name: string }).name);
  };

  // One query per scrape: the gauges' collect() calls start in one pass and share it.
  let snapshot: ReturnType<MeasuredOutbox['stats']> | undefined;
  const table = () => {
    if (!snapshot) {
      // A failed query must not fail the scrape: NaN says "unknown" without a stale number.
      snapshot = outbox.stats().catch(() => ({ pending: Number.NaN, oldestPendingSeconds: Number.NaN, deadLettered: Number.NaN }));
      queueMicrotask(() => {
        snapshot = undefined;
      });
    }
    return snapshot;
  };
  const tableGauge = (suffix: string, help: string, read: (s: Awaited<ReturnType<MeasuredOutbox['stats']>>) => number) =>
    new Gauge({
      name: prefix + suffix,
      help,
      registers,
      async collect() {
        this.set(read(await table()));
      },
    });

  try {
    add(tableGauge('outbox_pending_rows', 'Outbox rows committed and not yet relayed (NaN when the table cannot be read).', (s) => s.pending));
    add(tableGauge('outbox_oldest_pending_seconds', 'Age of the oldest outbox row not yet relayed; grows when no relay delivers.', (s) => s.oldestPendingSeconds));
    add(tableGauge('outbox_dead_letter_rows', 'Outbox rows the hub refused, kept with their error.', (s) => s.deadLettered));
    if (relay) {
      const counter = (suffix: string, help: string, read: () => number) =>
        new Counter({
          name: prefix + suffix,
          help,
          registers,
          collect() {
            this.reset();
            this.inc(read());
          },
        });
      const gauge = (suffix: string, help: string, read: () => number) =>
        new Gauge({
          name: prefix + suffix,
          help,
          registers,
          collect() {
            this.set(read());
          },
        });
      add(counter('outbox_relayed_total', "Outbox rows this process's relay sent to the hub and deleted.", () => relay.stats().relayed));
      add(counter('outbox_dead_lettered_total', "Outbox rows this process's relay dead-lettered.", () => relay.stats().deadLettered));
      add(gauge('outbox_relay_active', "1 while this process's relay is the active one (the others wait to take over).", () => (relay.stats().active ? 1 : 0)));
      add(gauge('outbox_relay_failures', 'Failures to reach PostgreSQL in a row (0 when the relay is healthy).', () => relay.stats().failures));
    }
  } catch (error) {
    for (const name of registered) registry.removeSingleMetric(name);
    throw error;
  }
  return () => {
    for (const name of registered) registry.removeSingleMetric(name);
    registered.length = 0;
  };
}
