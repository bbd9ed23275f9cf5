import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit, ServiceUnavailableException } from '@nestjs/common';
import { Hub } from '@wshub/nest';
import { Outbox, type OutboxRelay, type Queryable, type RelayTarget } from '@wshub/postgres';
import { type DemoDb, openDatabase } from './open-database.js';

/** The orders the demo starts with (kept on a real PostgreSQL: a restart does not reset them there). */
const SEED = [
  { id: 1, owner: 'alice', status: 'placed' },
  { id: 42, owner: 'bob', status: 'placed' },
  { id: 43, owner: 'bob', status: 'packed' },
  { id: 7, owner: 'carol', status: 'placed' },
];

/** Message ids waiting for the relay, for the commit → relayed latency; bounded, oldest dropped first. */
const MAX_TRACKED = 10_000;

export interface OutboxStatus {
  state: 'starting' | 'ready' | 'failed';
  /** Where the orders and the outbox live. */
  database: string;
  error?: string;
  /** Rows committed and not yet relayed; dead-lettered rows. */
  pending?: number;
  deadLettered?: number;
  /** Rows the relay handed to the hub since the start. */
  relayed?: number;
}

/**
 * The demo's database: its orders table and the `@wshub/postgres` outbox,
 * with the relay that moves committed rows to the hub. Embedded PGlite
 * unless `DATABASE_URL` names a PostgreSQL.
 *
 * It opens in the background: the app listens at once, and what needs the
 * database waits for it (`ready()`). Each relayed row's latency, from the
 * moment its transaction sent COMMIT to the relay handing it to the hub, is
 * kept for the live panel.
 */
@Injectable()
export class DemoDatabase implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Database');
  private db: DemoDb | undefined;
  private outbox: Outbox | undefined;
  private relay: OutboxRelay | undefined;
  private startup: Promise<void> = Promise.resolve();
  private closed = false;
  private failure: string | undefined;
  private readonly committedAt = new Map<string, number>();
  private latencies: number[] = [];
  private pending: number | undefined;
  private deadLettered: number | undefined;

  constructor(@Inject(Hub) private readonly hub: Hub) {}

  onModuleInit(): void {
    this.startup = this.start();
  }

  async onModuleDestroy(): Promise<void> {
    this.closed = true;
    // Still opening: start() closes it when it is done; shutdown does not wait for that.
    if (!this.outbox) return;
    await this.relay?.close();
    await this.db?.close();
  }

  private async start(): Promise<void> {
    const started = Date.now();
    try {
      const db = await openDatabase();
      this.db = db;
      await db.pool.query('CREATE TABLE IF NOT EXISTS demo_orders (id int PRIMARY KEY, owner text NOT NULL, status text NOT NULL)');
      const values = SEED.map((_, i) => `($${i * 3 + 1}::int, $${i * 3 + 2}::text, $${i * 3 + 3}::text)`).join(', ');
      await db.pool.query(
        `INSERT INTO demo_orders (id, owner, status) VALUES ${values} ON CONFLICT (id) DO NOTHING`,
        SEED.flatMap((o) => [o.id, o.owner, o.status]),
      );
      const outbox = new Outbox({ pool: db.pool });
      await outbox.install();
      if (this.closed) {
        await db.close();
        return;
      }
      this.outbox = outbox;
      this.relay = outbox.relay(this.timed(this.hub));
      this.relay.on('error', (error) => this.logger.error(error.message));
      this.logger.log(`orders and outbox in ${db.description}, ready in ${Date.now() - started} ms`);
    } catch (error) {
      this.failure = error instanceof Error ? error.message : String(error);
      this.logger.error(`the database could not be opened: ${this.failure}`);
      await this.db?.close().catch(() => {});
    }
  }

  /** Resolves once the database is open; a 503 when it could not be opened. */
  async ready(): Promise<{ db: DemoDb; outbox: Outbox }> {
    await this.startup;
    if (!this.db || !this.outbox) throw new ServiceUnavailableException(`the database is unavailable: ${this.failure ?? 'shutting down'}`);
    return { db: this.db, outbox: this.outbox };
  }

  /**
   * Runs `work` in one transaction and commits it, or rolls it back when it
   * throws or asks for it (`rollback`): the outbox rows it wrote go or stay
   * with the rest.
   */
  async transaction<T>(work: (tx: Queryable, outbox: Outbox) => Promise<T>, rollback = false): Promise<T> {
    const { db, outbox } = await this.ready();
    const tx = await db.pool.connect();
    try {
      await tx.query('BEGIN');
      const result = await work(tx, outbox);
      if (rollback) {
        await tx.query('ROLLBACK');
        return result;
      }
      // The outbox rows this transaction wrote, to time them from COMMIT to the hub.
      const { rows } = (await tx.query('SELECT message_id::text AS id FROM wshub_outbox WHERE xmin = pg_current_xact_id()::xid')) as {
        rows: Array<{ id: string }>;
      };
      const at = Date.now();
      for (const { id } of rows) this.track(id, at);
      try {
        await tx.query('COMMIT');
      } catch (error) {
        for (const { id } of rows) this.committedAt.delete(id);
        throw error;
      }
      return result;
    } catch (error) {
      await tx.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      tx.release();
    }
  }

  /** The relay's latencies (ms) since the last call; refreshes the pending count in the background. */
  takeLatencies(): number[] {
    const taken = this.latencies;
    this.latencies = [];
    this.outbox?.stats().then(
      (stats) => {
        this.pending = stats.pending;
        this.deadLettered = stats.deadLettered;
      },
      () => {},
    );
    return taken;
  }

  /** Pending rows as last read (at most a second ago while the live panel samples); undefined before. */
  get lastPending(): number | undefined {
    return this.pending;
  }

  /** Where the outbox lives and its state; its pending and dead-lettered rows read now. */
  async status(): Promise<OutboxStatus> {
    const database = this.db?.description ?? (process.env.DATABASE_URL ? 'PostgreSQL (DATABASE_URL)' : 'embedded PostgreSQL (PGlite, in memory)');
    if (this.failure) return { state: 'failed', database, error: this.failure };
    if (!this.outbox) return { state: 'starting', database };
    const stats = await this.outbox.stats().catch(() => undefined);
    if (stats) {
      this.pending = stats.pending;
      this.deadLettered = stats.deadLettered;
    }
    return { state: 'ready', database, pending: stats?.pending, deadLettered: stats?.deadLettered, relayed: this.relay?.stats().relayed };
  }

  private track(id: string, at: number): void {
    if (this.committedAt.size >= MAX_TRACKED) this.committedAt.delete(this.committedAt.keys().next().value!);
    this.committedAt.set(id, at);
  }

  /** The hub as the relay sees it, noting when each tracked row reaches it. */
  private timed(hub: Hub): RelayTarget {
    const reached = (id: string | undefined) => {
      const at = id === undefined ? undefined : this.committedAt.get(id);
      if (at === undefined) return;
      this.committedAt.delete(id!);
      this.latencies.push(Date.now() - at);
      if (this.latencies.length > MAX_TRACKED) this.latencies.shift();
    };
    return {
      sendMessage: (userId, event, data, filter, options) => {
        reached(options.id);
        return hub.sendMessage(userId, event, data, filter, options);
      },
      push: (event, data, allow, filter, options) => {
        reached(options.id);
        return hub.push(event, data as Parameters<Hub['push']>[1], allow, filter, options);
      },
      disconnect: (userId) => hub.disconnect(userId),
      get isClosing() {
        return hub.isClosing;
      },
    };
  }
}
