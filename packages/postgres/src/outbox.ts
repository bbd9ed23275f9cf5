import { activeTraceparent, DEFAULT_LIMITS, RESERVED_PREFIX, optionError, type WatchFilterArg } from '@wshub/core';
import { OutboxRelay, type RelayOptions, type RelayTarget } from './relay.js';
import { type OutboxStats, tableStats } from './relay-health.js';
import { DEFAULT_TABLE, type LockKeys, lockKeys, outboxSql, parseTableName, type TableName, tableRule } from './schema.js';

/**
 * Whatever runs the app's queries inside its transaction: a `pg` client, a
 * TypeORM `EntityManager` or `QueryRunner`, or any object with this method.
 */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/** The part of a `pg` `PoolClient` the outbox uses. */
export interface PoolClientLike extends Queryable {
  release(destroy?: boolean | Error): void;
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  removeAllListeners(event?: string): unknown;
}

/** The part of a `pg` `Pool` the outbox uses. */
export interface PoolLike extends Queryable {
  connect(): Promise<PoolClientLike>;
}

export interface OutboxOptions {
  /** A `pg` `Pool`: `install()` and the relay take their connections from it. */
  pool: PoolLike;
  /**
   * The outbox table, `name` or `schema.name`.
   * @default 'wshub_outbox'
   */
  table?: string;
  /**
   * The largest message (`{"event":…,"data":…}` as JSON, in bytes) that
   * `sendMessage`/`push` accept: a larger one could never be sent, so it is
   * refused while the transaction can still roll back. Keep it at or below
   * the hub's `limits.maxBufferedBytes`.
   * @default 1048576 (the hub's default `limits.maxBufferedBytes`)
   */
  maxBytes?: number;
}

/** Internals the relay shares with its outbox. */
export interface OutboxContext {
  readonly pool: PoolLike;
  readonly table: TableName;
  readonly keys: LockKeys;
}

const PG_UNDEFINED_TABLE = '42P01';
/** With the `u` flag a pair is one code point, so only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * A transactional outbox: `sendMessage`, `push` and `disconnect` write a row
 * in the app's own transaction, so the notification exists if and only if
 * that transaction commits; `relay(hub)` moves committed rows to the hub.
 *
 * Why the writes take advisory locks: row ids come from a sequence, and
 * sequence order is not commit order (a transaction that took id 5 may
 * commit after the one that took id 6, and the relay may read both in one
 * batch). Each write first takes a transaction lock for its user (and a
 * shared lock that a `push` takes exclusively), held until commit. Two
 * transactions that write rows one user receives therefore never overlap
 * from the first outbox write to the commit: for each user, id order is
 * commit order, and a row is never visible while an earlier one of the
 * same user is still in flight. So the relay sends in id order, with no
 * horizon to wait for. The cost: such transactions wait for each other from
 * their first outbox write to their commit (different users do not), and
 * a `push` waits for (and holds up) every outbox write in flight.
 */
export class Outbox {
  /** The table's DDL, as `install()` runs it (also {@link outboxSql}). */
  readonly sql: string;
  private readonly ctx: OutboxContext;
  private readonly maxBytes: number;

  constructor(options: OutboxOptions) {
    if (typeof options !== 'object' || options === null) throw optionError('outbox', 'options', 'an object', options);
    const { pool } = options;
    if (typeof pool !== 'object' || pool === null || typeof pool.connect !== 'function' || typeof pool.query !== 'function') {
      throw optionError('outbox', 'pool', 'a pg Pool (an object with connect() and query())', pool);
    }
    const table = parseTableName(options.table ?? DEFAULT_TABLE);
    if (!table) throw new TypeError(tableRule(options.table));
    const maxBytes = options.maxBytes ?? DEFAULT_LIMITS.maxBufferedBytes;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw optionError('outbox', 'maxBytes', 'a positive integer', maxBytes);
    }
    this.maxBytes = maxBytes;
    this.ctx = { pool, table, keys: lockKeys(table.name) };
    this.sql = outboxSql(table.name);
  }

  /** The table, as given (`schema.name` or `name`). */
  get table(): string {
    return this.ctx.table.name;
  }

  /**
   * Creates the table and its index if they are missing. Safe to run from
   * several processes at once (one transaction-level advisory lock).
   */
  async install(): Promise<void> {
    const client = await this.ctx.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.ctx.keys.leader]);
      for (const statement of this.sql.split(';\n').filter((s) => s.trim() !== '')) await client.query(statement);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      // Destroyed, not returned: the connection may be the reason it failed.
      client.release(true);
      throw error;
    }
    client.release();
  }

  /**
   * Writes a message for `userId` in `tx`'s transaction: the relay sends it
   * as `hub.sendMessage(userId, event, data, isWatchingOrPayload)` once the
   * transaction commits, and never if it rolls back. Refused at once (so
   * the transaction can roll back) when `data` is not JSON or too large.
   */
  async sendMessage(tx: Queryable, userId: string, event: string, data?: unknown, isWatchingOrPayload?: WatchFilterArg): Promise<void> {
    assertQueryable(tx);
    assertUserId(userId);
    assertEvent(event);
    const filter = filterJson(isWatchingOrPayload);
    const json = this.dataJson(event, data);
    await this.write(tx, 'message', userId, event, json, filter);
  }

  /**
   * Writes a broadcast in `tx`'s transaction: sent as
   * `hub.push(event, data, null, isWatchingOrPayload)` once it commits.
   * Plain data only: a callback cannot be stored.
   */
  async push(tx: Queryable, event: string, data?: unknown, isWatchingOrPayload?: WatchFilterArg): Promise<void> {
    assertQueryable(tx);
    assertEvent(event);
    if (typeof data === 'function') {
      throw new TypeError(`wshub outbox: push "${event}" data must be plain data, got a function (a callback cannot be stored)`);
    }
    const filter = filterJson(isWatchingOrPayload);
    const json = this.dataJson(event, data);
    await this.write(tx, 'push', null, event, json, filter);
  }

  /** Writes a disconnect of all of `userId`'s sockets (4000, on every node), done once `tx` commits. */
  async disconnect(tx: Queryable, userId: string): Promise<void> {
    assertQueryable(tx);
    assertUserId(userId);
    await this.write(tx, 'disconnect', userId, null, null, null);
  }

  /**
   * What the table holds now: rows waiting for the relay, the age of the
   * oldest of them, and dead-lettered rows. One scan of the table (which the
   * relay keeps small), for metrics and health checks.
   */
  async stats(): Promise<OutboxStats> {
    try {
      return await tableStats(this.ctx.pool, this.ctx.table);
    } catch (error) {
      throw explain(error, this.ctx.table.name);
    }
  }

  /**
   * Starts a relay that moves committed rows to `hub`. Many may run (on
   * several nodes): one at a time is active, the others take over when it
   * stops or dies. See {@link OutboxRelay}.
   */
  relay(hub: RelayTarget, options: RelayOptions = {}): OutboxRelay {
    return new OutboxRelay(this.ctx, hub, options);
  }

  private dataJson(event: string, data: unknown): string | null {
    if (data === undefined) return null;
    let json: string | undefined;
    try {
      json = JSON.stringify(data);
    } catch (error) {
      throw new TypeError(`wshub outbox: the data of "${event}" is not JSON: ${(error as Error).message}`);
    }
    if (json === undefined) {
      throw new TypeError(`wshub outbox: the data of "${event}" is not JSON, got ${typeof data}`);
    }
    // What the hub will write: {"event":…,"data":…}.
    const bytes = Buffer.byteLength(json) + Buffer.byteLength(JSON.stringify(event)) + 20;
    if (bytes > this.maxBytes) {
      throw new RangeError(
        `wshub outbox: the message "${event}" is ${bytes} bytes, more than maxBytes (${this.maxBytes}); it could never be sent`,
      );
    }
    return json;
  }

  private async write(
    tx: Queryable,
    kind: 'message' | 'push' | 'disconnect',
    userId: string | null,
    event: string | null,
    data: string | null,
    filter: string | null,
  ): Promise<void> {
    const { table, keys } = this.ctx;
    // The lock CTE runs before the insert reads from it, so the row's id is
    // taken only once the locks are held (see the class comment).
    // The span active in the app's transaction (its request), for the relay's wshub.send to link to.
    const traceparent = activeTraceparent() ?? null;
    const params: unknown[] = [kind, userId, event, data, filter, table.name, keys.broadcast, traceparent];
    const locks =
      kind === 'push'
        ? 'SELECT pg_advisory_xact_lock($7::bigint)'
        : 'SELECT pg_advisory_xact_lock_shared($7::bigint), pg_advisory_xact_lock($9::int, hashtext($2::text))';
    if (kind !== 'push') params.push(keys.userClass);
    const sql = `WITH locks AS (${locks}),
  row AS (INSERT INTO ${table.sql} (kind, user_id, event, data, filter, traceparent)
    SELECT $1::text, $2::text, $3::text, $4::json, $5::json, $8::text FROM locks RETURNING id)
SELECT pg_notify($6::text, '') FROM row`;
    try {
      await tx.query(sql, params);
    } catch (error) {
      throw explain(error, table.name);
    }
  }
}

/** A missing table becomes an error that says how to create it. */
export function explain(error: unknown, table: string): unknown {
  const code = (error as { code?: unknown } | null)?.code ?? (error as { driverError?: { code?: unknown } } | null)?.driverError?.code;
  if (code !== PG_UNDEFINED_TABLE) return error;
  return new Error(`wshub outbox: the table "${table}" does not exist; run await outbox.install() once (or apply outbox.sql in a migration)`, {
    cause: error,
  });
}

function assertQueryable(tx: unknown): void {
  if (typeof (tx as Queryable | null)?.query !== 'function') {
    throw new TypeError(
      `wshub outbox: "tx" must run the transaction's queries (an object with query(sql, params)), got ${tx === null ? 'null' : typeof tx}`,
    );
  }
}

function assertName(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`wshub outbox: "${name}" must be a non-empty string, got ${value === '' ? 'an empty string' : typeof value}`);
  }
}

// Same rules as the hub's: a row the hub would refuse is refused now, while the transaction can roll back.
function assertUserId(userId: unknown): void {
  assertName('userId', userId);
  if (LONE_SURROGATE.test(userId as string)) {
    throw new TypeError('wshub outbox: "userId" must be well-formed UTF-16, got a string with a lone surrogate');
  }
}

function assertEvent(event: unknown): void {
  assertName('event', event);
  if ((event as string).startsWith(RESERVED_PREFIX)) {
    throw new TypeError(`wshub outbox: event names starting with "${RESERVED_PREFIX}" are the protocol's own, got "${event}"`);
  }
}

function filterJson(filter: unknown): string | null {
  if (filter === undefined || filter === null || filter === false) return null;
  if (filter === true || typeof filter === 'string' || (typeof filter === 'number' && Number.isFinite(filter))) {
    return JSON.stringify(filter);
  }
  throw new TypeError(
    `wshub outbox: "isWatchingOrPayload" must be a boolean, a string, a finite number or null, got ${typeof filter}`,
  );
}
