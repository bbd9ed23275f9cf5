import { isTraceparent, type SendOptions, type WatchFilterArg } from '@wshub/core';
import { explain, type OutboxContext, type PoolClientLike } from './outbox.js';
import { type RelayHealth, type RelayHealthOptions, type RelayState, relayHealth, stateProblems, tableStats } from './relay-health.js';

/** What the relay calls: a `Hub`/`WsHub` of `@wshub/core` (or anything with these methods). */
export interface RelayTarget {
  sendMessage(userId: string, event: string, data: unknown, isWatchingOrPayload: WatchFilterArg, options: SendOptions): Promise<unknown>;
  push(event: string, data: unknown, allow: null, isWatchingOrPayload: WatchFilterArg, options: SendOptions): Promise<unknown>;
  disconnect(userId: string): Promise<void>;
  /** True once `close()` was called: the relay then stops and leaves the rest to another node's relay. */
  readonly isClosing?: boolean;
}

export interface RelayOptions {
  /**
   * Rows read, sent and deleted per round.
   * @default 100
   */
  batchSize?: number;
  /**
   * How often the relay looks for rows without a notification, and how often
   * a standby relay tries to take over from the active one.
   * @default 1000
   */
  pollIntervalMs?: number;
  /**
   * Wake up on `LISTEN`/`NOTIFY` as rows commit. Set `false` behind
   * PgBouncer in transaction mode, where `LISTEN` does not work: polling
   * alone still delivers everything, `pollIntervalMs` later at worst.
   * @default true
   */
  listen?: boolean;
  /**
   * First wait before connecting again after PostgreSQL failed; it doubles
   * up to `retryMaxMs` while failures go on.
   * @default 100
   */
  retryMinMs?: number;
  /** @default 10000 */
  retryMaxMs?: number;
  /** Called with every error the relay meets (it goes on after each); or use `relay.on('error', …)`. */
  onError?: (error: Error) => void;
}

export interface RelayStats {
  /** Whether this relay holds the leader lock (the others wait). */
  active: boolean;
  /** Rows sent to the hub and deleted. */
  relayed: number;
  /** Rows the hub refused, kept with `dead_at` and `error`. */
  deadLettered: number;
  /** Failures to reach PostgreSQL since the last success (0 when healthy). */
  failures: number;
  lastError: Error | undefined;
}

interface Row {
  id: string;
  message_id: string;
  kind: 'message' | 'push' | 'disconnect';
  user_id: string | null;
  event: string | null;
  data: string | null;
  filter: string | null;
  traceparent: string | null;
  /** As text: put back as it was, to the microsecond. */
  created_at: string;
}

/** Ids are bigints as decimal strings: the shorter is the smaller. */
function byId(a: Row, b: Row): number {
  return a.id.length - b.id.length || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const DEFAULTS = { batchSize: 100, pollIntervalMs: 1000, retryMinMs: 100, retryMaxMs: 10_000 };

/**
 * Moves committed outbox rows to the hub, in id order (which the outbox's
 * locks make commit order per user), and deletes them.
 *
 * One relay at a time is active: it holds a session advisory lock on its
 * own connection and takes (deletes) and sends its batches on that same
 * connection. Rows
 * locked with `FOR UPDATE SKIP LOCKED` by several relays would let one relay
 * send a user's later row while another still holds the earlier one; a
 * single active relay cannot reorder. When its process dies, PostgreSQL ends
 * its session and frees the lock, and a standby takes over within
 * `pollIntervalMs`. Because the lock and the batches share the connection, a
 * relay that lost its lock has also lost the connection it would send with.
 *
 * A batch is deleted in a transaction that commits once the hub took its
 * rows: a crash before that COMMIT rolls the delete back, and the next
 * active relay sends those rows again. Each goes with its id (`options.id`
 * of `sendMessage`/`push`), so the hub drops the repeat.
 */
export class OutboxRelay {
  private readonly options: Required<Omit<RelayOptions, 'onError'>> & Pick<RelayOptions, 'onError'>;
  private readonly listeners = new Set<(error: Error) => void>();
  private readonly done: Promise<void>;
  private closed = false;
  private woken = false;
  private wake: (() => void) | undefined;
  private client: PoolClientLike | undefined;
  private broken: Error | undefined;
  /** A batch the hub took whose DELETE is not committed yet. */
  private open = false;
  /** What the open batch did, counted once it commits. */
  private taken: { relayed: number; dead: Error[] } = { relayed: 0, dead: [] };
  private readonly counts: RelayStats = { active: false, relayed: 0, deadLettered: 0, failures: 0, lastError: undefined };

  constructor(
    private readonly ctx: OutboxContext,
    private readonly hub: RelayTarget,
    options: RelayOptions,
  ) {
    this.options = resolve(options);
    for (const method of ['sendMessage', 'push', 'disconnect'] as const) {
      if (typeof (hub as unknown as Record<string, unknown> | null)?.[method] !== 'function') {
        throw new TypeError(`wshub outbox: relay(hub) needs a hub with ${method}(), got ${hub === null ? 'null' : typeof hub}`);
      }
    }
    this.done = this.run();
  }

  /** Listens for errors (PostgreSQL away, a row dead-lettered); the relay goes on after each. */
  on(event: 'error', listener: (error: Error) => void): this {
    if (event === 'error') this.listeners.add(listener);
    return this;
  }

  off(event: 'error', listener: (error: Error) => void): this {
    if (event === 'error') this.listeners.delete(listener);
    return this;
  }

  stats(): RelayStats {
    return { ...this.counts };
  }

  /**
   * For a health check: leader, follower or stopped; the table's backlog
   * (pending rows, the oldest one's age) and dead letters; failures and the
   * last error. Not ready while PostgreSQL fails the relay, when the oldest
   * pending row is older than `maxPendingAgeSeconds` (60), or once stopped.
   * Reads the table once through the pool; never rejects for PostgreSQL
   * being away (that is a problem it reports).
   */
  async health(options?: RelayHealthOptions): Promise<RelayHealth> {
    const { table, pool } = this.ctx;
    return relayHealth(this.state(), () => tableStats(pool, table).catch((error) => Promise.reject(explain(error, table.name))), options);
  }

  /**
   * What the relay knows without reading the table, for core's
   * `hubHealth(hub, { checks: [relay] })`: stopped, or failing to reach
   * PostgreSQL. The backlog's age needs `health()`.
   */
  healthProblems(): string[] {
    return stateProblems(this.state());
  }

  private state(): RelayState {
    return { closed: this.closed, active: this.counts.active, failures: this.counts.failures, lastError: this.counts.lastError };
  }

  /** Stops after the round in flight (its rows are sent and deleted) and frees the connection and the lock. */
  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.done;
  }

  private report(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    this.counts.lastError = e;
    // A listener that throws must not stop the relay or skip the others.
    for (const listener of [...this.listeners]) {
      try {
        listener(e);
      } catch {}
    }
    try {
      this.options.onError?.(e);
    } catch {}
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      try {
        const client = await this.connect();
        if (!(await this.lead(client))) continue;
        this.counts.failures = 0;
        while (!this.closed) {
          if (this.hubClosing()) break;
          this.woken = false;
          const count = await this.round(client);
          if (count < this.options.batchSize) await this.idle(this.options.pollIntervalMs);
          this.check();
        }
        // Stopped after a full batch: its COMMIT would have gone with the next one.
        await this.commit(client);
      } catch (error) {
        this.drop();
        if (this.closed) break;
        this.counts.failures++;
        this.report(explain(error, this.ctx.table.name));
        const wait = Math.min(this.options.retryMaxMs, this.options.retryMinMs * 2 ** (this.counts.failures - 1));
        await this.idle(wait);
      }
    }
    this.drop();
  }

  /** One dedicated connection: leader lock, LISTEN and batches. */
  private async connect(): Promise<PoolClientLike> {
    if (this.client) return this.client;
    const client = await this.ctx.pool.connect();
    this.client = client;
    this.broken = undefined;
    // An idle connection that PostgreSQL ends emits 'error': without a
    // listener that would crash the process.
    client.on('error', (error) => {
      if (this.client !== client) return;
      this.broken = error;
      this.wake?.();
    });
    client.on('end', () => {
      if (this.client !== client) return;
      this.broken ??= new Error('wshub outbox: the relay connection to PostgreSQL ended');
      this.wake?.();
    });
    client.on('notification', (message) => {
      if (this.client === client && message.channel === this.ctx.table.name) {
        this.woken = true;
        this.wake?.();
      }
    });
    // Named after its table, so an operator (or a test) can find it in pg_stat_activity.
    await client.query('SELECT set_config($1, $2, false)', ['application_name', `wshub-outbox-relay ${this.ctx.table.name}`.slice(0, 63)]);
    return client;
  }

  /** Tries to become the active relay; a standby waits `pollIntervalMs` and is asked again. */
  private async lead(client: PoolClientLike): Promise<boolean> {
    if (this.counts.active) return true;
    if (this.hubClosing()) return false;
    const result = (await client.query('SELECT pg_try_advisory_lock($1::bigint) AS ok', [this.ctx.keys.leader])) as {
      rows: Array<{ ok: boolean }>;
    };
    if (!result.rows[0]?.ok) {
      await this.idle(this.options.pollIntervalMs);
      this.check();
      return false;
    }
    this.counts.active = true;
    if (this.options.listen) await client.query(`LISTEN "${this.ctx.table.name}"`);
    return true;
  }

  /**
   * Takes one batch in one round trip and sends it in id order; returns how
   * many rows it took.
   *
   * The rows are deleted by the statement that reads them, inside a
   * transaction that commits only once the hub took them: the COMMIT goes
   * with the next batch's DELETE (`COMMIT; BEGIN; DELETE … RETURNING`, one
   * query), or on its own when the batch was not full (the relay then
   * idles, and never idles inside a transaction). If the relay dies, its
   * connection goes and PostgreSQL rolls the transaction back: the rows come
   * back for the next active relay, and their ids let the hub drop what it
   * already had. Rows the hub refused (dead letters) and rows left unsent
   * because the hub is closing are put back, in the same transaction, as
   * they were (with `dead_at` and `error` for a dead letter).
   */
  private async round(client: PoolClientLike): Promise<number> {
    const { table } = this.ctx;
    // Several statements in one parameterless query (the simple protocol): the batch size is a checked integer.
    const take = `BEGIN; DELETE FROM ${table.sql} WHERE id IN (SELECT id FROM ${table.sql} WHERE dead_at IS NULL ORDER BY id LIMIT ${this.options.batchSize}) RETURNING id, message_id, kind, user_id, event, data::text AS data, filter::text AS filter, traceparent, created_at::text AS created_at`;
    const answer = (await client.query(this.open ? `COMMIT; ${take}` : take)) as Array<{ rows: Row[] }> | { rows: Row[] };
    this.committed();
    this.open = true;
    const results = Array.isArray(answer) ? answer : [answer];
    // RETURNING has no order of its own.
    const rows = results[results.length - 1]!.rows.sort(byId);
    const back: Array<{ row: Row; error: string | null }> = [];
    const dead: Error[] = [];
    let sent = 0;
    for (const [i, row] of rows.entries()) {
      if (this.hubClosing()) {
        // Not sent: back to the table for another node's relay.
        for (const rest of rows.slice(i)) back.push({ row: rest, error: null });
        break;
      }
      try {
        await this.send(row);
        sent++;
      } catch (error) {
        // The hub refused this row and would refuse it again: set it aside
        // with its error so the rows behind it go on.
        const message = error instanceof Error ? error.message : String(error);
        back.push({ row, error: message });
        dead.push(new Error(`wshub outbox: row ${row.id} ("${row.event ?? row.kind}") could not be delivered and was dead-lettered: ${message}`, { cause: error }));
      }
    }
    if (back.length > 0) await this.putBack(client, back);
    this.taken = { relayed: sent, dead };
    if (rows.length < this.options.batchSize || this.closed) await this.commit(client);
    return rows.length;
  }

  /** Commits the open batch, if any: its rows are then gone for good. */
  private async commit(client: PoolClientLike): Promise<void> {
    if (!this.open) return;
    await client.query('COMMIT');
    this.committed();
  }

  /** The open batch committed: counts it and reports its dead letters. */
  private committed(): void {
    this.open = false;
    const { relayed, dead } = this.taken;
    this.taken = { relayed: 0, dead: [] };
    this.counts.relayed += relayed;
    this.counts.deadLettered += dead.length;
    for (const error of dead) this.report(error);
  }

  /** Inserts rows of the open batch again, with their ids; `error` set marks a dead letter. */
  private async putBack(client: PoolClientLike, back: Array<{ row: Row; error: string | null }>): Promise<void> {
    const { table } = this.ctx;
    const column = <K extends keyof Row>(key: K) => back.map((b) => b.row[key]);
    await client.query(
      `INSERT INTO ${table.sql} (id, message_id, kind, user_id, event, data, filter, traceparent, created_at, dead_at, error) OVERRIDING SYSTEM VALUE
SELECT r.id, r.message_id, r.kind, r.user_id, r.event, r.data, r.filter, r.traceparent, r.created_at, CASE WHEN r.error IS NULL THEN NULL ELSE now() END, r.error
FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::json[], $7::json[], $8::text[], $9::timestamptz[], $10::text[])
  AS r(id, message_id, kind, user_id, event, data, filter, traceparent, created_at, error)`,
      [
        column('id'),
        column('message_id'),
        column('kind'),
        column('user_id'),
        column('event'),
        column('data'),
        column('filter'),
        column('traceparent'),
        column('created_at'),
        back.map((b) => b.error),
      ],
    );
  }

  /**
   * A closing hub would take rows that no socket gets any more (and, once its
   * broker is closed, no other node either): the relay stops instead, which
   * frees the leader lock, and a relay on another node sends them.
   */
  private hubClosing(): boolean {
    if (this.hub.isClosing !== true) return false;
    this.closed = true;
    return true;
  }

  private send(row: Row): Promise<unknown> {
    const id = row.message_id;
    // The hub's wshub.send links to the span that wrote the row; a value that is not a traceparent is left out, not dead-lettered.
    const options: SendOptions = isTraceparent(row.traceparent) ? { id, link: row.traceparent } : { id };
    // Read as text: SQL NULL (no data) and JSON null must stay apart.
    const data = row.data === null ? undefined : JSON.parse(row.data);
    const filter = row.filter === null ? undefined : (JSON.parse(row.filter) as WatchFilterArg);
    switch (row.kind) {
      case 'message':
        return this.hub.sendMessage(row.user_id!, row.event!, data, filter, options);
      case 'push':
        return this.hub.push(row.event!, data, null, filter, options);
      case 'disconnect':
        return this.hub.disconnect(row.user_id!);
      default:
        return Promise.reject(new Error(`unknown row kind ${JSON.stringify(row.kind)}`));
    }
  }

  /** Waits `ms`, or less when a notification, an error or close() comes. */
  private idle(ms: number): Promise<void> {
    if (this.closed || this.woken || this.broken) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  private check(): void {
    if (this.broken) throw this.broken;
  }

  /** Destroys the connection, which also frees the leader lock. */
  private drop(): void {
    const client = this.client;
    this.client = undefined;
    this.broken = undefined;
    // A notification that came on the lost connection says nothing about the
    // next one; left set, it would skip every backoff wait of the retries.
    this.woken = false;
    this.counts.active = false;
    // Destroying the connection rolls the open batch back: its rows come back.
    this.open = false;
    this.taken = { relayed: 0, dead: [] };
    if (!client) return;
    // run() must never reject (nobody would catch it): a release that throws is only reported.
    try {
      client.release(true);
    } catch (error) {
      this.report(error);
    }
  }
}

function resolve(options: RelayOptions): OutboxRelay['options'] {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`wshub outbox: relay options must be an object, got ${options === null ? 'null' : typeof options}`);
  }
  const out = { ...DEFAULTS, listen: true, ...options };
  for (const name of ['batchSize', 'pollIntervalMs', 'retryMinMs', 'retryMaxMs'] as const) {
    const value = out[name];
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`wshub outbox: relay option "${name}" must be a positive integer, got ${String(value)}`);
    }
  }
  if (typeof out.listen !== 'boolean') throw new TypeError(`wshub outbox: relay option "listen" must be a boolean, got ${typeof out.listen}`);
  if (out.onError !== undefined && typeof out.onError !== 'function') {
    throw new TypeError(`wshub outbox: relay option "onError" must be a function, got ${typeof out.onError}`);
  }
  return out;
}
