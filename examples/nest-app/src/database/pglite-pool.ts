import { EventEmitter } from 'node:events';
import type { PGlite } from '@electric-sql/pglite';
import type { PoolClientLike, PoolLike } from '@wshub/postgres';

type Params = unknown[] | undefined;
type Result = { rows: Record<string, unknown>[]; rowCount: number };
/** A statement after a `;`: text that pg would send in one simple query. */
const MULTI = /;\s*\S/;

/**
 * An embedded PostgreSQL (PGlite) behind the part of a `pg` `Pool` the
 * outbox and the demo use: `query()` and `connect()` → a client with
 * `query()`, `release()` and the `notification` / `error` / `end` events.
 *
 * PGlite is one PostgreSQL session in this process, not a server: every
 * "connection" here shares it. So:
 *
 * - A transaction holds the session from its first statement to COMMIT or
 *   ROLLBACK (PGlite's `isInTransaction()`); the other clients' queries wait
 *   meanwhile. Transactions never interleave; they run one after another.
 * - Advisory locks are the session's: they never block here (one session
 *   holds them all), so the outbox's per-user locks cost nothing, and a
 *   second relay on the same PGlite would lead too. Order holds because
 *   transactions are serialized; run one relay.
 * - `LISTEN` registers the session; every notification PGlite sees goes to
 *   the clients that listen on its channel, whichever client committed.
 */
export class PGlitePool implements PoolLike {
  /** The session's owner: the client whose transaction is open, or whose query runs. */
  private queue: Promise<void> = Promise.resolve();
  private readonly clients = new Set<PGliteClient>();
  private readonly stopNotifications: () => void;

  constructor(readonly db: PGlite) {
    this.stopNotifications = db.onNotification((channel, payload) => {
      for (const client of this.clients) client.notify(channel, payload);
    });
  }

  /** One statement, outside any transaction of another client. */
  async query(sql: string, params?: Params): Promise<Result> {
    const client = await this.connect();
    try {
      return await client.query(sql, params);
    } finally {
      client.release();
    }
  }

  async connect(): Promise<PGliteClient> {
    const client = new PGliteClient(this);
    this.clients.add(client);
    return client;
  }

  /** Waits for the session; resolves with the function that hands it on. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const turn = this.queue.then(() => release);
    this.queue = this.queue.then(() => mine);
    return turn;
  }

  forget(client: PGliteClient): void {
    this.clients.delete(client);
  }

  /** Stops routing notifications and closes PGlite. */
  async end(): Promise<void> {
    this.stopNotifications();
    for (const client of this.clients) client.emit('end');
    this.clients.clear();
    await this.db.close();
  }
}

class PGliteClient extends EventEmitter implements PoolClientLike {
  private held: (() => void) | undefined;
  private readonly channels = new Set<string>();
  private released = false;

  constructor(private readonly pool: PGlitePool) {
    super();
  }

  async query(sql: string, params?: Params): Promise<Result> {
    if (this.released) throw new Error('query on a released client');
    this.held ??= await this.pool.acquire();
    try {
      // Several statements without parameters (the outbox relay's `COMMIT; BEGIN; DELETE …`): run as
      // pg's simple protocol runs them, one result each; PGlite's query() takes one statement only.
      if ((params === undefined || params.length === 0) && MULTI.test(sql)) {
        const results = (await this.pool.db.exec(sql)).map((r) => ({ rows: r.rows as Record<string, unknown>[], rowCount: r.affectedRows ?? r.rows.length }));
        // As pg answers: an array for several statements (typed as one Result, like pg's own typings).
        return (results.length === 1 ? results[0] : results) as Result;
      }
      const result = await this.pool.db.query<Record<string, unknown>>(sql, params ?? []);
      const listen = /^\s*(UN)?LISTEN\s+"?([^"\s;]+)"?/i.exec(sql);
      if (listen?.[1]) this.channels.delete(listen[2]!);
      else if (listen) this.channels.add(listen[2]!);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    } finally {
      // Inside a transaction (also a failed one, until ROLLBACK) the session stays this client's.
      if (!this.pool.db.isInTransaction()) this.handOn();
    }
  }

  notify(channel: string, payload: string): void {
    if (this.channels.has(channel)) this.emit('notification', { channel, payload });
  }

  /** Back to the pool; an open transaction is rolled back first, so the session is never left inside it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.pool.forget(this);
    if (!this.held) return;
    if (!this.pool.db.isInTransaction()) {
      this.handOn();
      return;
    }
    this.pool.db.exec('ROLLBACK').then(
      () => this.handOn(),
      () => this.handOn(),
    );
  }

  private handOn(): void {
    const held = this.held;
    this.held = undefined;
    held?.();
  }
}
